-- Attack: an infinite loop.
-- Expected: the CPU budget stops it: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "loop",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      while true do end -- error here
    end
    j:send("email", "ok")
  end,
}
