-- Attack: an infinite loop inside a coroutine whose error coroutine.resume swallows.
-- Expected: resume cannot swallow the budget: u1's instance fails, not completes with a send.
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "loop_coroutine_resume",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local co = coroutine.create(function() while true do end end) coroutine.resume(co) -- error here
    end
    j:send("email", "ok")
  end,
}
