-- Test recipe for tests/cli/test_profiles.sh: one email a day after
-- "Trial Started" (no holdout), naming the profile that gets it.
return journey {
  name = "profile_wait",
  trigger = { event = "Trial Started" },
  run = function(j)
    j:wait("1d")
    j:send("email", "followup", { who = j:profile().id })
  end,
}
