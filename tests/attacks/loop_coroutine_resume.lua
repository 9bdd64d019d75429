-- Attack: an infinite loop inside a coroutine; coroutine.resume catches the
-- CPU budget error there and returns false.  The hook was set to fire on
-- every instruction only in the coroutine, so the journey's own thread goes
-- on for up to 1,000 instructions: enough to send and complete.
-- Expected: resume cannot swallow the budget: u1's instance fails (with no
-- message sent) on the line marked "error here".
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
