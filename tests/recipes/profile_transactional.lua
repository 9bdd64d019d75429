-- Test recipe for tests/cli/test_profiles.sh: a transactional email at once
-- on "Ping" (no holdout, re-entry allowed); the send result goes to the history.
return journey {
  name = "profile_receipt",
  trigger = { event = "Ping" },
  reentry = true,
  purpose = "transactional",
  run = function(j)
    local r = j:send("email", "receipt")
    j:log("send", r.status, r.reason)
  end,
}
