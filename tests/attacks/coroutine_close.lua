-- Attack: a __close handler that loops, run by coroutine.close after the budget tripped inside the coroutine.
-- Expected: the CPU budget stops the handler: u1's instance fails on the line marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "coroutine_close",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local co = coroutine.create(function() local x <close> = setmetatable({}, { __close = function() while true do end end }) while true do end end) coroutine.resume(co) coroutine.close(co) -- error here
    end
    j:send("email", "ok")
  end,
}
