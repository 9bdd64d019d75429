-- Attack: a 1 GB string.
-- Expected: the memory cap refuses it: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "memory_rep",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local s = string.rep("x", 1e9) -- error here
    end
    j:send("email", "ok")
  end,
}
