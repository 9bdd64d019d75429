-- Onboarding, told through four people who sign up on Monday 2 November
-- 2026 in the afternoon, New York time.
local t = require "nudge.test"

local function sign_up(s, id, name, at)
  s:profile(id, { first_name = name, email = id .. "@example.com", timezone = "America/New_York" })
  s:consent(id, "email", true)
  s:track(id, "Signed Up", { method = "email" }, at or "2026-11-02T19:00:00Z")  -- 14:00 in New York
end

t.case("Mia signs up and does nothing else: a welcome now, tips on day 1, 3 and 7 at 10:00 her time", function(s)
  sign_up(s, "mia", "Mia")
  s:expect_sent{ profile = "mia", channel = "email", template = "welcome", text = "Hi Mia," }
  s:advance("1d")                          -- Tuesday 14:00: day 1's tip went out at 10:00
  s:expect_sent{ profile = "mia", channel = "email", template = "complete_profile" }
  s:advance("2d")                          -- Thursday: day 3
  s:expect_sent{ profile = "mia", channel = "email", template = "first_picks" }
  s:advance("4d")                          -- next Monday: day 7, with the offer
  s:expect_sent{ profile = "mia", channel = "email", template = "first_order", text = "15% off" }
  s:expect_state{ profile = "mia", journey = "onboarding", state = "completed" }
end)

t.case("The day-1 tip arrives at 10:00 New York time, not before", function(s)
  sign_up(s, "noor", "Noor")
  s:advance("19h59m")                      -- Tuesday 09:59 in New York
  s:expect_not_sent{ profile = "noor", template = "complete_profile" }
  s:advance("1m")                          -- 10:00
  s:expect_sent{ profile = "noor", template = "complete_profile" }
end)

t.case("Omar completes his profile at once: no reminder to do it", function(s)
  sign_up(s, "omar", "Omar")
  s:track("omar", "Profile Completed", {})
  s:advance("8d")
  s:expect_not_sent{ profile = "omar", template = "complete_profile" }
  s:expect_sent{ profile = "omar", template = "first_picks" }
end)

t.case("Pia allows push: day 3's picks come as a push; then she buys, which ends the series", function(s)
  sign_up(s, "pia", "Pia")
  s:profile("pia", { fcm_token = "device-pia-1" })              -- she has the app
  s:consent("pia", "push", true)
  s:advance("3d")
  s:expect_sent{ profile = "pia", channel = "push", template = "first_picks" }
  s:expect_not_sent{ profile = "pia", channel = "email", template = "first_picks" }
  s:track("pia", "Product Added", { sku = "SKU-1004", name = "Headlamp", price = 39 })
  s:track("pia", "Order Completed", { order_id = "o-3", revenue = 39 })
  s:advance("5d")
  s:expect_not_sent{ profile = "pia", template = "first_order" }
  s:expect_state{ profile = "pia", journey = "onboarding", state = "exited" }
end)
