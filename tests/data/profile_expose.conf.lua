-- Config for tests/cli/test_profiles.sh: recipes may read first_name in the clear.
return {
  pii = { expose = { "first_name" } },
}
