-- `nudge serve` tests (tests/cli/test_serve.sh): on "Serve Ping", one
-- webhook message at once, carrying the event's properties.n.
return journey {
  name = "serve_hook",
  trigger = { event = "Serve Ping" },
  reentry = true,
  run = function(j)
    j:send("hook", "serve_ping", { n = (j.trigger.properties or {}).n or 0 })
  end,
}
