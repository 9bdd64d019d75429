-- Test recipe for tests/cli/test_guardrails.sh: nearly everyone in the control
-- group (holdout = 0.99: the ids the test uses fall in it), so j:send on
-- "Held" records "holdout" before any other guardrail is asked; the result
-- goes to the history as "status reason".
return journey {
  name = "guard_holdout",
  trigger = { event = "Held" },
  reentry = true,
  holdout = 0.99,
  run = function(j)
    local r = j:send("sms", "held")
    j:log(r.status, r.reason or "-")
  end,
}
