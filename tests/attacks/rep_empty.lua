-- Attack: string.rep of an empty string a quadrillion times: a C loop the instruction hook never sees.
-- Expected: refused or stopped: u1's instance fails on the line marked "error here" within seconds.
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "rep_empty",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local s = string.rep("", 1e15) -- error here
    end
    j:send("email", "ok")
  end,
}
