-- Attack: run a shell command through the os library.
-- Expected: `os` is not a global: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "os",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      os.execute("touch /tmp/nudge-pwned") -- error here
    end
    j:send("email", "ok")
  end,
}
