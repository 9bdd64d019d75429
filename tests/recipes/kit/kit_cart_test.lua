-- The story of a few customers through kit_cart.lua (and, with
-- t.recipe, kit_welcome.lua and kit_lapsed.lua).  The email case needs an
-- email channel with an adapter (the config tests/cli/test_nudge_test.sh
-- writes: smtp, whose password variable may stay unset, nothing is sent).
local t = require "nudge.test"
t.recipe("kit_welcome.lua")
t.recipe("kit_lapsed.lua")

t.case("SMS after 30 minutes when consented", function(s)
  s:profile("u1", { phone = "+15551234567", first_name = "Ana", timezone = "America/New_York" })
  s:consent("u1", "sms", true)
  s:track("u1", "Checkout Started", { products = { { sku = "A1" } } }, "2026-11-02T15:00:00Z")
  s:advance("29m")
  s:expect_not_sent{ channel = "sms" }
  s:advance("1m")
  s:expect_sent{ channel = "sms", profile = "u1", template = "kit_cart_sms", text = "Hi Ana," }
  s:track("u1", "Order Completed")
  s:advance("2d")
  s:expect_not_sent{ channel = "email" }
  s:expect_state{ profile = "u1", journey = "kit_cart", state = "exited" }
end)

t.case("the email a day later shows the items and an unsubscribe link", function(s)
  s:profile("u2", { email = "bo@example.com", first_name = "Bo" })
  s:consent("u2", "email", true)
  s:track("u2", "Checkout Started", { products = { { sku = "A1" }, { sku = "B2" } } })
  s:advance("30m")
  s:expect_not_sent{ channel = "sms" }                   -- no consent for texts
  s:expect_state{ profile = "u2", journey = "kit_cart", state = "waiting" }
  s:advance("24h")
  s:expect_sent{ channel = "email", template = "kit_cart_email", text = "- B2", count = 1 }
  local m = s:messages()[1]
  assert(m.to == "bo@example.com", "the address is decrypted at delivery")
  assert(m.subject == "Bo, you left something behind", m.subject)
  assert(m.text:find("Unsubscribe: https://shop.example.com/unsubscribe?token=", 1, true), m.text)
  assert(m.html:find("<li>B2</li>", 1, true), m.html)
  assert(m.vars.discount == 10 and m.at == "2026-01-06T09:30:00.000Z", m.at)
  s:expect_state{ profile = "u2", journey = "kit_cart", state = "completed" }
end)

t.case("an SMS in quiet hours waits for 09:00 in the person's time zone", function(s)
  s:profile("u3", { phone = "+15557654321", timezone = "America/New_York" })
  s:consent("u3", "sms", true)
  s:track("u3", "Checkout Started", {}, "2026-11-03T03:00:00Z")  -- 22:00 in New York
  s:advance("1h")
  s:expect_not_sent{ channel = "sms" }
  s:advance("2026-11-03T14:30:00Z")
  s:expect_sent{ channel = "sms", profile = "u3", text = "Hi, your cart" }
  assert(s:messages()[1].at == "2026-11-03T14:00:00.000Z", s:messages()[1].at)
end)

t.case("a revocation before delivery stops the SMS waiting for morning", function(s)
  s:profile("u4", { phone = "+15550001111", timezone = "America/New_York" })
  s:consent("u4", "sms", true)
  s:track("u4", "Checkout Started", {}, "2026-11-03T03:00:00Z")
  s:advance("1h")
  s:consent("u4", "sms", false)
  s:advance("12h")
  s:expect_not_sent{ channel = "sms" }
  s:expect_sent{ channel = "sms", status = "suppressed" }
end)

t.case("a template that cannot render is a captured failure", function(s)
  s:track("u5", "Signed Up")
  s:expect_sent{ channel = "push", template = "kit_welcome_push", status = "failed" }
  s:expect_sent{ channel = "note", template = "kit_note" }
  local push, note = s:messages()[1], s:messages()[2]
  assert(push.reason:find("{{nickname}} has no value", 1, true), push.reason)
  assert(note.text == nil and note.vars.code == "T9")
  assert(s:now() == 1767603600, "the clock starts at 2026-01-05T09:00:00Z")
end)

t.case("a page view starts nothing", function(s)
  s:page("u6", "Pricing", { path = "/pricing" })
  s:advance("3d")
  s:expect_not_sent{}
end)

t.case("a person in the control group gets nothing", function(s)
  s:holdout("u7")
  s:profile("u7", { phone = "+15550007777" })
  s:consent("u7", "sms", true)
  s:consent("u7", "email", true)
  s:track("u7", "Checkout Started", {}, "2026-06-01T12:00:00Z")
  s:advance("2d")
  s:expect_not_sent{ profile = "u7" }
  s:expect_state{ profile = "u7", journey = "kit_cart", state = "completed" }
end)

t.case("an audience is checked once a day, at its own time", function(s)
  s:track("u8", "Order Completed", { order_id = "o1", revenue = 10 }, "2026-04-01T08:00:00Z")
  s:advance("29d")
  s:expect_not_sent{ template = "kit_lapsed" }
  s:advance("2d")
  s:expect_sent{ channel = "note", profile = "u8", template = "kit_lapsed", count = 1 }
  assert(s:messages()[1].at == "2026-05-01T08:00:00.000Z", s:messages()[1].at)
  s:expect_state{ profile = "u8", journey = "kit_lapsed", state = "completed" }
end)
