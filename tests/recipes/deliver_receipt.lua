-- Delivery tests: a transactional email (no unsubscribe link or headers).
return journey {
  name = "deliver_receipt",
  purpose = "transactional",
  trigger = { event = "Order Completed" },
  reentry = true,
  run = function(j)
    j:send("email", "receipt", { order = j.trigger.properties.order_id })
  end,
}
