-- Attack: unbounded recursion.
-- Expected: Lua's stack limit or the CPU budget, whichever comes first (both
-- take about 100 ms), stops it: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "recursion",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local function f(n) return 1 + f(n + 1) end f(1) -- error here
    end
    j:send("email", "ok")
  end,
}
