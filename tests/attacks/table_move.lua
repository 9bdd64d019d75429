-- Attack: table.move over 1e13 empty slots: a loop in C that allocates
-- nothing and that the instruction-count hook never sees.
-- Expected: refused or stopped: u1's instance fails on the line marked
-- "error here" within seconds.
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "table_move",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      table.move({}, 1, 1e13, 2) -- error here
    end
    j:send("email", "ok")
  end,
}
