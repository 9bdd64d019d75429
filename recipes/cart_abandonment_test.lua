-- The cart recipe, told through six shoppers.  Every checkout happens on
-- Monday 2 November 2026 at 10:00 in New York (15:00 UTC) unless it says.
local t = require "nudge.test"

local socks = { { sku = "SKU-1002", name = "Merino Wool Socks", price = 18, quantity = 2 } }

-- A shopper in New York with a phone number and an email address.
local function shopper(s, id, name)
  s:profile(id, { first_name = name, phone = "+15551230000", email = id .. "@example.com",
                  timezone = "America/New_York" })
end

t.case("Ana leaves her cart: a text after 30 minutes, an email with her cart a day later", function(s)
  shopper(s, "ana", "Ana")
  s:consent("ana", "sms", true)
  s:consent("ana", "email", true)
  s:track("ana", "Checkout Started", { products = socks }, "2026-11-02T15:00:00Z")
  s:advance("29m")
  s:expect_not_sent{ profile = "ana", channel = "sms" }          -- not yet
  s:advance("1m")
  s:expect_sent{ profile = "ana", channel = "sms", template = "cart_sms",
                 text = "Still thinking it over, Ana?" }
  s:advance("24h")
  s:expect_sent{ profile = "ana", channel = "email", template = "cart_reminder",
                 text = "Merino Wool Socks" }
  s:expect_sent{ profile = "ana", channel = "email", text = "10% off" }
  s:expect_state{ profile = "ana", journey = "cart_abandonment", state = "completed" }
end)

t.case("The discount is only in the second message", function(s)
  shopper(s, "ben", "Ben")
  s:consent("ben", "sms", true)
  s:consent("ben", "email", true)
  s:track("ben", "Checkout Started", { products = socks }, "2026-11-02T15:00:00Z")
  s:advance("30m")
  s:expect_sent{ profile = "ben", channel = "sms", template = "cart_sms" }
  s:expect_not_sent{ profile = "ben", channel = "sms", text = "% off" }
  s:advance("24h")
  s:expect_sent{ profile = "ben", channel = "email", text = "10% off" }
end)

t.case("Chloe buys within the hour: the text went out, the email never does", function(s)
  shopper(s, "chloe", "Chloe")
  s:consent("chloe", "sms", true)
  s:consent("chloe", "email", true)
  s:track("chloe", "Checkout Started", { products = socks }, "2026-11-02T15:00:00Z")
  s:advance("45m")
  s:expect_sent{ profile = "chloe", channel = "sms", template = "cart_sms" }
  s:track("chloe", "Order Completed", { order_id = "o-1", revenue = 36 })
  s:advance("2d")
  s:expect_not_sent{ profile = "chloe", channel = "email" }
  s:expect_state{ profile = "chloe", journey = "cart_abandonment", state = "exited" }
end)

t.case("Dev never agreed to texts: no SMS, but the email still comes", function(s)
  shopper(s, "dev", "Dev")
  s:consent("dev", "email", true)
  s:track("dev", "Checkout Started", { products = socks }, "2026-11-02T15:00:00Z")
  s:advance("25h")
  s:expect_not_sent{ profile = "dev", channel = "sms" }
  s:expect_sent{ profile = "dev", channel = "email", template = "cart_reminder" }
end)

t.case("Eve checks out late at night: her text waits for 9:00 her time", function(s)
  shopper(s, "eve", "Eve")
  s:consent("eve", "sms", true)
  s:track("eve", "Checkout Started", { products = socks }, "2026-11-03T03:00:00Z")  -- 22:00 in New York
  s:advance("1h")
  s:expect_not_sent{ profile = "eve", channel = "sms" }          -- quiet hours: held
  s:advance("10h")                                                -- past 09:00 New York
  s:expect_sent{ profile = "eve", channel = "sms", template = "cart_sms" }
end)

t.case("Hana is in the 10% control group: nothing is sent, and whether she buys is still counted", function(s)
  shopper(s, "hana", "Hana")
  s:consent("hana", "sms", true)
  s:consent("hana", "email", true)
  s:holdout("hana")                                               -- in the control group
  s:track("hana", "Checkout Started", { products = socks }, "2026-11-02T15:00:00Z")
  s:advance("25h")
  s:expect_not_sent{ profile = "hana" }
  s:expect_state{ profile = "hana", journey = "cart_abandonment", state = "completed" }
end)
