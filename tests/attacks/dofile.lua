-- Attack: run another file with dofile.
-- Expected: `dofile` is not a global: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "dofile",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      dofile("/etc/passwd") -- error here
    end
    j:send("email", "ok")
  end,
}
