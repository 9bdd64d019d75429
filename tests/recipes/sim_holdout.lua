-- Test recipe for tests/cli/test_simulate.sh: half the sign-ups in the
-- control group, a purchase within 3 days counts as the goal, and a
-- follow-up two days later that a purchase does not stop.
return journey {
  name = "sim_holdout",
  trigger = { event = "Signed Up" },
  goal = { event = "Purchased", within = "3d" },
  exit_on = { "Account Closed" },
  holdout = 0.5,
  run = function(j)
    j:send("email", "welcome")
    j:wait("2d")
    j:send("email", "follow_up")
  end,
}
