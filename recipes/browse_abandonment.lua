-- Browse abandonment: someone came back to look at products a second time
-- but put nothing in the cart.  Four hours later, one email about the last
-- product they looked at.  Adding to the cart meanwhile: no email.
return journey {
  name    = "browse_abandonment",
  trigger = {
    event = "Product Viewed",
    where = function(event, profile)          -- their second look or later
      local views = profile.events["Product Viewed"]
      return views ~= nil and views.count >= 2
    end,
  },
  exit_on = { "Order Completed" },            -- bought: nothing to remind
  goal    = { event = "Order Completed", within = "7d" },
  reentry = "7d",                              -- at most one try a week
  run = function(j)
    j:wait("4h")
    if j:count("Product Added", "1d") > 0 then  -- it is in their cart:
      return j:exit("added_to_cart")            -- the cart journey's turn
    end
    local product = j:last("Product Viewed").properties or {}
    j:send("email", "browse_reminder", { name = product.name, price = product.price })
  end,
}
