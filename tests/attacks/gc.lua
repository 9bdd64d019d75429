-- Attack: install a __gc finalizer, which would run outside the CPU budget.
-- Expected: setmetatable refuses __gc: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "gc",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      setmetatable({}, { __gc = function() while true do end end }) -- error here
    end
    j:send("email", "ok")
  end,
}
