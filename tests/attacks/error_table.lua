-- Attack: raise an error whose value is a table, not a message.
-- Expected: the failure still names this line: u1's instance fails on the
-- line marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "error_table",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      error({ code = 42 }) -- error here
    end
    j:send("email", "ok")
  end,
}
