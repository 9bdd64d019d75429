-- Test recipe for tests/cli/test_guardrails.sh: a marketing message at once
-- on "Send" (no holdout, re-entry allowed), on the channel and with the
-- template the event names (properties `channel`, default "sms", and
-- `template`, default "promo"); the j:send result goes to the history as
-- "status reason" ("-" for no reason).
return journey {
  name = "guard_send",
  trigger = { event = "Send" },
  reentry = true,
  run = function(j)
    local p = j.trigger.properties or {}
    local r = j:send(p.channel or "sms", p.template or "promo")
    j:log(r.status, r.reason or "-")
  end,
}
