-- Attack: reach the os library through require.
-- Expected: require offers only nudge.* modules: u1's instance fails on the
-- line marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "require",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local os = require("os") -- error here
    end
    j:send("email", "ok")
  end,
}
