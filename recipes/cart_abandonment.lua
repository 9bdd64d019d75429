-- Cart abandonment: someone started checkout and did not buy.
-- A text after 30 minutes (if they agreed to texts), then an email a day
-- later with what was in the cart and a discount.  Buying ends it at once.
return journey {
  name    = "cart_abandonment",
  trigger = { event = "Checkout Started" },
  exit_on = { "Order Completed" },            -- leave at once when they buy
  goal    = { event = "Order Completed", within = "3d" },
  reentry = "7d",                              -- at most once a week per person
  holdout = 0.10,                              -- 10% control group, no sends
  run = function(j)
    j:wait("30m")
    if j:consented("sms") then
      j:send("sms", "cart_sms")
    end
    j:wait("24h")                              -- a purchase meanwhile exits
    j:send("email", "cart_reminder",
           { items = j.trigger.properties.products, discount = 10 })
  end,
}
