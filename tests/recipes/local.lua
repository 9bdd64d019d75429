-- Test recipe: j:wait_until("10:00") and j:local_time() in the person's zone.
return journey {
  name = "local",
  trigger = { event = "Signed Up" },
  run = function(j)
    j:wait_until("10:00")
    local t = j:local_time()
    j:send("email", "morning", { hour = t.hour, minute = t.minute, zone = t.zone })
    j:wait_until("2026-12-01T00:00:00Z")
    j:send("email", "december")
  end,
}
