-- Test recipe for tests/cli/test_guardrails.sh: a journey with its own cap,
-- one email per 3 days counted over this journey's messages only.
return journey {
  name = "guard_journey_cap",
  trigger = { event = "Nudge" },
  reentry = true,
  caps = { email = { 1, "3d" } },
  run = function(j)
    local p = j.trigger.properties or {}
    j:send("email", p.template or "nudge")
  end,
}
