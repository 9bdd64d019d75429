-- Attack: replace a library function with rawset, past the read-only proxy.
-- Expected: rawset refuses protected tables: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "rawset",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      rawset(string, "upper", function() return "pwned" end) -- error here
    end
    j:send("email", "ok")
  end,
}
