-- Attack: an infinite loop that tries to swallow the CPU budget error with
-- pcall.
-- Expected: the budget error fires again at once: u1's instance fails on the
-- line marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "loop_pcall",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      while true do pcall(function() while true do end end) end -- error here
    end
    j:send("email", "ok")
  end,
}
