-- Test recipe for tests/cli/test_guardrails.sh (nudge explain): on "Two",
-- a marketing SMS (two_sms), an hour's wait, then a marketing email
-- (two_email); each result goes to the history as "status reason".
return journey {
  name = "guard_two",
  trigger = { event = "Two" },
  run = function(j)
    local r = j:send("sms", "two_sms")
    j:log(r.status, r.reason or "-")
    j:wait("1h")
    r = j:send("email", "two_email")
    j:log(r.status, r.reason or "-")
  end,
}
