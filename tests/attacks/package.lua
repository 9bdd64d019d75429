-- Attack: load a C library through package.loadlib.
-- Expected: `package` is not a global: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "package",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local f = package.loadlib("libc.so.6", "system") -- error here
    end
    j:send("email", "ok")
  end,
}
