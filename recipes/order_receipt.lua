-- The order receipt.  Transactional, not marketing: it goes to every buyer
-- without asking for marketing consent and whatever the frequency caps,
-- carries no unsubscribe link, and still never reaches a suppressed address.
return journey {
  name    = "order_receipt",
  purpose = "transactional",
  trigger = { event = "Order Completed" },
  reentry = true,                           -- one receipt per order
  run = function(j)
    local order = j.trigger.properties or {}
    j:send("email", "order_receipt", {
      order_id = order.order_id, items = order.products, total = order.revenue,
    })
  end,
}
