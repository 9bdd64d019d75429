-- Attack: a catastrophic backtracking pattern.
-- Expected: the pattern guard refuses it: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "pattern",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      string.find(("a"):rep(400), (".-"):rep(3) .. "b") -- error here
    end
    j:send("email", "ok")
  end,
}
