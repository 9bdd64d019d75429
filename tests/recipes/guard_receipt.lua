-- Test recipe for tests/cli/test_guardrails.sh: as guard_send.lua, but a
-- transactional journey on "Receipt" (template default "receipt"): no
-- consent record needed, no caps, no quiet hours; suppression still holds.
return journey {
  name = "guard_receipt",
  trigger = { event = "Receipt" },
  reentry = true,
  purpose = "transactional",
  run = function(j)
    local p = j.trigger.properties or {}
    local r = j:send(p.channel or "sms", p.template or "receipt")
    j:log(r.status, r.reason or "-")
  end,
}
