-- Cases that fail on purpose, one in each way (wrong channel, not sent
-- yet, no consent, wrong state, a Lua error) and one that passes:
-- tests/cli/test_nudge_test.sh checks how `nudge test` reports them.
-- There is no failing.lua, so every recipe of this folder is loaded.
local t = require "nudge.test"

t.case("wrong channel", function(s)
  s:profile("f1", { phone = "+15551230001" })
  s:consent("f1", "sms", true)
  s:track("f1", "Checkout Started", {}, "2026-03-02T15:00:00Z")
  s:advance("30m")
  s:expect_sent{ channel = "push", profile = "f1" }
end)

t.case("not sent yet", function(s)
  s:profile("f2", { email = "f2@example.com" })
  s:consent("f2", "email", true)
  s:track("f2", "Checkout Started", {}, "2026-03-02T15:00:00Z")
  s:advance("2h")
  s:expect_sent{ channel = "email", profile = "f2" }
end)

t.case("no consent", function(s)
  s:profile("f3", { email = "f3@example.com" })
  s:track("f3", "Checkout Started", {}, "2026-03-02T15:00:00Z")
  s:advance("25h")
  s:expect_sent{ channel = "email", profile = "f3" }
end)

t.case("wrong state", function(s)
  s:track("f4", "Checkout Started", {}, "2026-03-02T15:00:00Z")
  s:advance("1h")
  s:expect_state{ profile = "f4", journey = "kit_cart", state = "completed" }
end)

t.case("a Lua error", function(s)
  s:track("f5", "Checkout Started", {}, "2026-03-02T15:00:00Z")
  local plan = nil
  s:advance(plan.wait)
end)

t.case("passes", function(s)
  s:expect_not_sent{}
end)
