-- `nudge serve` tests: SIGHUP reloads recipes.  The test copies this file
-- and changes "serve_hup_v1" to "serve_hup_v2": instances that started
-- before the reload send v1 after their sleep, new ones v2.
return journey {
  name = "serve_hup",
  trigger = { event = "Serve Hup" },
  reentry = true,
  run = function(j)
    j:wait("3s")
    j:send("hook", "serve_hup_v1")
  end,
}
