-- After an order: a thank-you at once, a review request three days after
-- the parcel arrives, and two weeks later ideas that go with what they
-- bought.  No delivery within 14 days: no review request, no cross-sell.
-- (The receipt is a separate, transactional journey: order_receipt.lua.)
return journey {
  name    = "post_purchase",
  trigger = { event = "Order Completed" },
  exit_on = { "Order Completed" },          -- a new order starts it over
  goal    = { event = "Order Completed", within = "30d" },  -- a next order
  reentry = true,
  run = function(j)
    local order = j.trigger.properties or {}
    local items = order.products or {}
    j:send("email", "thank_you", { order_id = order.order_id })

    local delivered = j:wait_for("Order Delivered", "14d", function(event)
      return event.properties ~= nil and event.properties.order_id == order.order_id
    end)
    if not delivered then
      j:log("order", order.order_id, "not delivered within 14 days")
      return j:exit("not_delivered")
    end

    j:wait("3d")                            -- time to try it out
    j:send("email", "review_request", { items = items })

    j:wait("14d")
    local first = items[1] or {}
    j:send("email", "cross_sell", { product = first.name })
  end,
}
