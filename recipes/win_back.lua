-- Win-back: customers who have not ordered for 60 days.  Two emails two
-- weeks apart, with an A/B test on the offer: half get 10% off, half get
-- free shipping.  An order at any point ends it (and counts as the goal).
local offers = {
  ten_percent   = { offer = "10% off your next order",          code = "BACK10" },
  free_shipping = { offer = "free shipping on your next order", code = "SHIPFREE" },
}

return journey {
  name    = "win_back",
  trigger = {
    audience = function(p)                 -- checked once a day for everyone
      return p.order_count > 0 and p.days_since_last_order >= 60
    end,
    every = "1d",
  },
  exit_on = { "Order Completed" },         -- they came back: stop at once
  goal    = { event = "Order Completed", within = "30d" },
  reentry = "90d",                          -- at most once a quarter
  run = function(j)
    local variant = j:split{ ten_percent = 50, free_shipping = 50 }
    j:set("win_back_offer", variant)       -- on their profile, for reports
    local deal = offers[variant]
    j:send("email", "win_back", { offer = deal.offer, code = deal.code })
    j:wait("2w")
    j:send("email", "win_back_last_call", { offer = deal.offer, code = deal.code })
  end,
}
