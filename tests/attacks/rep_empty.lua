-- Attack: string.rep of an empty string 1e15 times.  The result is empty,
-- so the memory cap never trips, but Lua 5.4.4 still loops 1e15 times in C,
-- where the instruction-count hook never runs.
-- Expected: answered at once with "" (the guard knows the result is empty).
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "rep_empty",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local s = string.rep("", 1e15)
    end
    j:send("email", "ok")
  end,
}
