-- Attack: an infinite loop inside one pcall, with more code after it.  The
-- budget error is caught, then raised again by the hook on the next line
-- that runs, so the message may name that line instead of the loop.
-- Expected: u1's instance fails with the CPU budget, naming the line of the
-- loop (marked "error here"), where the time went.
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "loop_pcall_once",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      pcall(function() while true do end end) -- error here
      j:log("after the loop")
    end
    j:send("email", "ok")
  end,
}
