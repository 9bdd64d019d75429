-- Attack: remove the CPU budget hook with the debug library.
-- Expected: `debug` is not a global: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "debug",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      debug.sethook() -- error here
    end
    j:send("email", "ok")
  end,
}
