-- After the order, told through five customers who buy a day pack.
local t = require "nudge.test"

local pack = { sku = "SKU-1003", name = "Day Pack", price = 79, quantity = 1 }

local function buy(s, id, name, order_id)
  s:profile(id, { first_name = name, email = id .. "@example.com", timezone = "Europe/London" })
  s:consent(id, "email", true)
  s:track(id, "Order Completed", { order_id = order_id, revenue = 79, products = { pack } },
          "2026-11-02T11:00:00Z")
end

t.case("Uma's parcel arrives: thank you now, a review request 3 days after delivery, ideas 2 weeks later", function(s)
  buy(s, "uma", "Uma", "o-100")
  s:expect_sent{ profile = "uma", template = "thank_you", text = "order o-100" }
  s:advance("2d")
  s:track("uma", "Order Delivered", { order_id = "o-100" })
  s:advance("2d")
  s:expect_not_sent{ profile = "uma", template = "review_request" }   -- a day to go
  s:advance("1d")
  s:expect_sent{ profile = "uma", template = "review_request", text = "Day Pack" }
  s:advance("14d")
  s:expect_sent{ profile = "uma", template = "cross_sell", text = "Goes well with your Day Pack" }
  s:expect_state{ profile = "uma", journey = "post_purchase", state = "completed" }
end)

t.case("Vera's parcel is lost: no review request and no cross-sell", function(s)
  buy(s, "vera", "Vera", "o-101")
  s:advance("30d")
  s:expect_sent{ profile = "vera", template = "thank_you" }
  s:expect_not_sent{ profile = "vera", template = "review_request" }
  s:expect_not_sent{ profile = "vera", template = "cross_sell" }
  s:expect_state{ profile = "vera", journey = "post_purchase", state = "exited" }
end)

t.case("Will's other parcel arriving first does not count as this order's delivery", function(s)
  buy(s, "will", "Will", "o-102")
  s:advance("1d")
  s:track("will", "Order Delivered", { order_id = "o-099" })       -- an older order
  s:advance("4d")
  s:expect_not_sent{ profile = "will", template = "review_request" }
  s:track("will", "Order Delivered", { order_id = "o-102" })
  s:advance("3d")
  s:expect_sent{ profile = "will", template = "review_request" }
end)

t.case("Xavi said no to marketing email: nothing from this journey reaches him", function(s)
  s:profile("xavi", { first_name = "Xavi", email = "xavi@example.com" })
  s:consent("xavi", "email", false)
  s:track("xavi", "Order Completed", { order_id = "o-103", revenue = 79, products = { pack } },
          "2026-11-02T11:00:00Z")
  s:track("xavi", "Order Delivered", { order_id = "o-103" }, "2026-11-04T11:00:00Z")
  s:advance("30d")
  s:expect_not_sent{ profile = "xavi" }
end)

t.case("Yuki orders again the next day: the journey starts over, about the new order", function(s)
  buy(s, "yuki", "Yuki", "o-104")
  s:advance("1d")
  s:track("yuki", "Order Completed", { order_id = "o-105", revenue = 79, products = { pack } })
  s:expect_sent{ profile = "yuki", template = "thank_you", count = 2 }  -- one per order
  s:advance("1d")
  s:track("yuki", "Order Delivered", { order_id = "o-104" })            -- the first parcel
  s:advance("4d")
  s:expect_not_sent{ profile = "yuki", template = "review_request" }
  s:track("yuki", "Order Delivered", { order_id = "o-105" })
  s:advance("3d")
  s:expect_sent{ profile = "yuki", template = "review_request", count = 1 }
end)
