-- Attack: patterns just under the complexity limit, several times: each call runs seconds of C before the hook can fire.
-- Expected: refused or stopped: u1's instance fails on the line marked "error here" within seconds.
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "pattern_loop",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      for i = 1, 5 do string.find(("a"):rep(999), (".-"):rep(2) .. "b") end -- error here
    end
    j:send("email", "ok")
  end,
}
