-- Config for tests/cli/test_profiles.sh: recipes may read first_name in the clear.
return {
  consent_default = "opt_out", quiet_hours = { sms = false }, -- as open.conf.lua
  pii = { expose = { "first_name" } },
}
