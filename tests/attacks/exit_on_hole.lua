-- Attack: an exit_on list with a hole.  journey{} checks it with ipairs,
-- which stops at the hole, and keeps the table; the host reads it with a
-- raw length that may reach past the hole.
-- Expected: `nudge run` finishes without crashing (exit 0 or 2).
return journey {
  name = "exit_on_hole",
  trigger = { event = "Go" },
  exit_on = { "Stop", nil, 5 },
  run = function(j) end,
}
