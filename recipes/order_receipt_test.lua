-- The receipt is transactional: every buyer gets one for every order.
local t = require "nudge.test"

local mug = { sku = "SKU-1005", name = "Camping Mug", price = 12, quantity = 2 }

t.case("Yara said no to marketing email, and still gets her receipt", function(s)
  s:profile("yara", { first_name = "Yara", email = "yara@example.com" })
  s:consent("yara", "email", false)
  s:track("yara", "Order Completed", { order_id = "o-200", revenue = 24, products = { mug } },
          "2026-11-02T11:00:00Z")
  s:expect_sent{ profile = "yara", channel = "email", template = "order_receipt",
                 text = "Camping Mug x 2: $12" }
  s:expect_sent{ profile = "yara", template = "order_receipt", text = "Total: $24" }
end)

t.case("Zoe orders twice in one day: two receipts", function(s)
  s:profile("zoe", { first_name = "Zoe", email = "zoe@example.com" })
  s:track("zoe", "Order Completed", { order_id = "o-201", revenue = 12, products = { mug } },
          "2026-11-02T09:00:00Z")
  s:track("zoe", "Order Completed", { order_id = "o-202", revenue = 12, products = { mug } },
          "2026-11-02T17:00:00Z")
  s:expect_sent{ profile = "zoe", template = "order_receipt", text = "o-201" }
  s:expect_sent{ profile = "zoe", template = "order_receipt", text = "o-202" }
end)
