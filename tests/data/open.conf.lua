-- The config of the CLI tests that are not about guardrails: no consent
-- record means yes, and no quiet hours, so journeys' sends are queued as
-- written (tests/cli/lib.sh, open_nudge.sh).
return {
  consent_default = "opt_out",
  quiet_hours = { sms = false },
}
