-- Attack: replace a library function by assignment.
-- Expected: library tables are read-only: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "readonly",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      table.insert = function() end -- error here
    end
    j:send("email", "ok")
  end,
}
