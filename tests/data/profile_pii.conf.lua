-- Config for tests/cli/test_profiles.sh: one more PII field besides the defaults.
return {
  consent_default = "opt_out", quiet_hours = { sms = false }, -- as open.conf.lua
  pii = { fields = { "nickname" } },
}
