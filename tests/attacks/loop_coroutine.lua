-- Attack: an infinite loop inside a coroutine, called through coroutine.wrap.
-- Expected: the budget holds in coroutines too: u1's instance fails on the
-- line marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "loop_coroutine",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      coroutine.wrap(function() while true do end end)() -- error here
    end
    j:send("email", "ok")
  end,
}
