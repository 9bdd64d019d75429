-- Test recipe for tests/cli/test_profiles.sh: a trigger filter that reads a
-- PII trait through the profile it is given (pii.expose makes it readable).
return journey {
  name = "profile_where",
  trigger = { event = "Ping", where = function(event, profile)
    return profile.first_name == "Philomena"
  end },
  run = function(j)
    j:send("email", "welcome_by_name")
  end,
}
