-- Bench rule for the delivery bench: one push message at sign-up, with no
-- wait, so every "Signed Up" queues exactly one message for the sender.
return journey {
  name    = "send_now",
  trigger = { event = "Signed Up" },
  run = function(j)
    j:send("push", "welcome", { n = 1 })
  end,
}
