-- Attack: unbounded recursion.
-- Expected: Lua's stack limit stops it: u1's instance fails on the line marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "recursion",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local function f(...) return 1 + f(...) end f(table.unpack({}, 1, 100)) -- error here
    end
    j:send("email", "ok")
  end,
}
