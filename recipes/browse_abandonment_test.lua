-- Browse abandonment, told through four shoppers looking at a rain jacket.
local t = require "nudge.test"

local jacket = { product_id = "p1001", sku = "SKU-1001", name = "Rain Jacket", price = 149 }

local function shopper(s, id, name)
  s:profile(id, { first_name = name, email = id .. "@example.com", timezone = "Europe/London" })
  s:consent(id, "email", true)
end

t.case("Ivan looks at the jacket twice and leaves: one email about it four hours later", function(s)
  shopper(s, "ivan", "Ivan")
  s:track("ivan", "Product Viewed", jacket, "2026-11-02T12:00:00Z")
  s:advance("1h")
  s:track("ivan", "Product Viewed", jacket)                       -- back for a second look
  s:advance("3h")
  s:expect_not_sent{ profile = "ivan" }                           -- not yet
  s:advance("1h")
  s:expect_sent{ profile = "ivan", channel = "email", template = "browse_reminder",
                 text = "Still thinking about the Rain Jacket?" }
  s:advance("2d")
  s:track("ivan", "Product Viewed", jacket)                        -- two days later, again
  s:advance("5h")
  s:expect_sent{ profile = "ivan", template = "browse_reminder", count = 1 }  -- one try a week
  s:advance("5d")
  s:track("ivan", "Product Viewed", jacket)                        -- a week on: a new try
  s:advance("5h")
  s:expect_sent{ profile = "ivan", template = "browse_reminder", count = 2 }
end)

t.case("Jade looks only once: no email", function(s)
  shopper(s, "jade", "Jade")
  s:track("jade", "Product Viewed", jacket, "2026-11-02T12:00:00Z")
  s:advance("1d")
  s:expect_not_sent{ profile = "jade" }
end)

t.case("Kofi looks twice, then puts it in his cart: no browse email", function(s)
  shopper(s, "kofi", "Kofi")
  s:track("kofi", "Product Viewed", jacket, "2026-11-02T12:00:00Z")
  s:track("kofi", "Product Viewed", jacket, "2026-11-02T12:10:00Z")
  s:advance("1h")
  s:track("kofi", "Product Added", jacket)
  s:advance("1d")
  s:expect_not_sent{ profile = "kofi", template = "browse_reminder" }
  s:expect_state{ profile = "kofi", journey = "browse_abandonment", state = "exited" }
end)

t.case("Lena looks twice and buys straight away: no email", function(s)
  shopper(s, "lena", "Lena")
  s:track("lena", "Product Viewed", jacket, "2026-11-02T12:00:00Z")
  s:track("lena", "Product Viewed", jacket, "2026-11-02T12:05:00Z")
  s:track("lena", "Order Completed", { order_id = "o-2", revenue = 149, products = { jacket } },
          "2026-11-02T12:20:00Z")
  s:advance("1d")
  s:expect_not_sent{ profile = "lena" }
end)
