-- Attack: turn a function into bytecode with string.dump.
-- Expected: string.dump is removed: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "string_dump",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local code = string.dump(function() end) -- error here
    end
    j:send("email", "ok")
  end,
}
