-- Bench rule for the trigger-to-send latency bench (bench/latency.py): every
-- "Latency Probe" sends one webhook at once, whose text is the probe's send
-- time (properties.t0, Unix ms), so the sink can tell how long it took.
return journey {
  name    = "send_on_event",
  trigger = { event = "Latency Probe" },
  reentry = true,
  run = function(j)
    j:send("hook", "probe", { t0 = j.trigger.properties.t0 })
  end,
}
