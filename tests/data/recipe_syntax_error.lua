-- A recipe with a syntax error on line 5 (the trigger table is never
-- closed).  `nudge run` must refuse it with exit code 2, naming file:line.
return journey {
  name    = "broken_syntax",
  trigger = { event = "Checkout Started",
  run = function(j)
    j:wait("30m")
  end,
}
