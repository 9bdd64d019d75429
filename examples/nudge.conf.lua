-- An example nudge.conf.lua: copy it next to your recipes, or pass it
-- with `nudge --config examples/nudge.conf.lua run ...`.
return {
  db = "nudge.db",
  outbox = "outbox.ndjson",        -- where the file channel writes messages
  consent_default = "opt_in",      -- no consent record means no
  recipes = { "recipes" },         -- folders read when no recipe is named
  limits = { memory_mb = 64, cpu_ms = 100 },  -- per recipe state / activation
}
