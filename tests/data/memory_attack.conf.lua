-- The config of the memory attacks (tests/cli/test_sandbox_attacks.sh):
-- open.conf.lua's rules, with CPU time to spare, so that the 64 MiB cap
-- and not the 100 ms budget stops a table that doubles, however slow the
-- machine or the build (sanitizers).
return {
  consent_default = "opt_out",
  quiet_hours = { sms = false },
  limits = { cpu_ms = 10000 },
}
