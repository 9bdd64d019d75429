-- Config for tests/cli/test_profiles.sh: one more PII field besides the defaults.
return {
  pii = { fields = { "nickname" } },
}
