-- Test recipe for tests/cli/test_consent.sh: on "Ping", logs what
-- j:consented answers now — marketing sms, marketing email, transactional
-- email — as "1"/"0" in the journey's history.  Sends nothing, so the
-- guardrails on j:send do not matter here.  Re-entry allowed, no holdout.
local function bit(yes) return yes and "1" or "0" end

return journey {
  name = "consent_check",
  trigger = { event = "Ping" },
  reentry = true,
  run = function(j)
    j:log(bit(j:consented("sms")), bit(j:consented("email")),
          bit(j:consented("email", "transactional")))
  end,
}
