-- Bench rule: someone views a product, comes back for a second look within
-- a day, and still has not added anything: an email about that product two
-- hours after the second view.  Adding to the cart or buying ends it.
return journey {
  name    = "browse_followup",
  trigger = {
    event = "Product Viewed",
    where = function(event, profile)
      return event.properties ~= nil and event.properties.sku ~= nil
    end,
  },
  exit_on = { "Product Added", "Checkout Started", "Order Completed" },
  reentry = "3d",
  run = function(j)
    local second_view = j:wait_for("Product Viewed", "1d")
    if not second_view then
      return j:exit("single_view")
    end
    j:wait("2h")
    local product = second_view.properties or {}
    j:send("email", "browse_followup", { sku = product.sku, name = product.name })
  end,
}
