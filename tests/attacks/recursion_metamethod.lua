-- Attack: unbounded recursion through an __index metamethod (C calls).
-- Expected: the C stack limit stops it: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "recursion_metamethod",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local t = setmetatable({}, { __index = function(t, k) return t[k] end }) local x = t.x -- error here
    end
    j:send("email", "ok")
  end,
}
