-- `nudge serve` tests: kill -9 under load.  Every "Load Send" makes one
-- webhook message at once; the other events of the load only get stored.
return journey {
  name = "serve_load",
  trigger = { event = "Load Send" },
  reentry = true,
  run = function(j)
    j:send("hook", "serve_load", { b = (j.trigger.properties or {}).b })
  end,
}
