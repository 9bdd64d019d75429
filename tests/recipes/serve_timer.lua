-- `nudge serve` tests: on "Serve Timer", a 2 s sleep, then one webhook
-- message: the service's timers fire on the wall clock.
return journey {
  name = "serve_timer",
  trigger = { event = "Serve Timer" },
  reentry = true,
  run = function(j)
    j:wait("2s")
    j:send("hook", "serve_timer", { n = (j.trigger.properties or {}).n or 0 })
  end,
}
