-- Attack: an xpcall message handler that loops forever.  The handler's
-- first call (for "boom") runs out of CPU budget; the budget error, raised
-- from inside the count hook, calls the handler again while hooks are
-- disabled, so nothing can stop it.
-- Expected: the CPU budget stops it anyway: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "xpcall_loop",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      xpcall(function() error("boom") end, function(m) while true do end end) -- error here
    end
    j:send("email", "ok")
  end,
}
