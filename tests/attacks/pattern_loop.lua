-- Attack: a pattern just under the complexity limit (each call about 30 ms
-- of matching in C, where the instruction-count hook cannot see it), called
-- in a tight loop: the hook only runs every 1,000 instructions, i.e. after
-- some 250 calls, so the CPU budget is checked only after seconds.
-- Expected: refused or stopped: u1's instance fails on the line marked
-- "error here" within seconds.
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "pattern_loop",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local s, p = ("a"):rep(320), (".-"):rep(2) .. "b" for i = 1, 1000 do string.find(s, p) end -- error here
    end
    j:send("email", "ok")
  end,
}
