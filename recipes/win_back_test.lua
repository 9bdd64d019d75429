-- Win-back, told through a few customers and when they last ordered.
local t = require "nudge.test"

local function customer(s, id, name, last_order_at)
  s:profile(id, { first_name = name, email = id .. "@example.com", timezone = "Europe/Berlin" })
  s:consent(id, "email", true)
  s:track(id, "Order Completed", { order_id = "o-" .. id, revenue = 69 }, last_order_at)
end

t.case("Quinn has not ordered for 60 days: an offer, then a last call two weeks later", function(s)
  customer(s, "quinn", "Quinn", "2026-09-01T10:00:00Z")
  s:advance("59d")
  s:expect_not_sent{ profile = "quinn" }                        -- 59 days: not yet
  s:advance("1d")                                               -- day 60: 31 October
  s:expect_sent{ profile = "quinn", channel = "email", template = "win_back", text = "We miss you, Quinn" }
  s:advance("13d")
  s:expect_not_sent{ profile = "quinn", template = "win_back_last_call" }
  s:advance("1d")                                               -- two weeks later
  s:expect_sent{ profile = "quinn", channel = "email", template = "win_back_last_call" }
  s:expect_state{ profile = "quinn", journey = "win_back", state = "completed" }
  s:advance("16d")
  s:expect_sent{ profile = "quinn", count = 2 }                 -- and nothing more
end)

t.case("Rosa comes back after the first email: no last call", function(s)
  customer(s, "rosa", "Rosa", "2026-09-01T10:00:00Z")
  s:advance("61d")
  s:expect_sent{ profile = "rosa", template = "win_back" }
  s:track("rosa", "Order Completed", { order_id = "o-rosa-2", revenue = 99 })
  s:advance("3w")
  s:expect_not_sent{ profile = "rosa", template = "win_back_last_call" }
  s:expect_state{ profile = "rosa", journey = "win_back", state = "exited" }
end)

t.case("Sam ordered a month ago and Tom never ordered: neither is in the audience", function(s)
  s:profile("tom", { first_name = "Tom", email = "tom@example.com" })
  s:consent("tom", "email", true)
  s:track("tom", "Signed Up", {}, "2026-09-01T10:00:00Z")
  customer(s, "sam", "Sam", "2026-10-01T10:00:00Z")
  s:advance("40d")                                              -- to 10 November
  s:expect_not_sent{ profile = "sam" }
  s:expect_not_sent{ profile = "tom" }
end)

t.case("The offer is an A/B test: each customer keeps one offer, and both offers are used", function(s)
  for i = 1, 12 do
    customer(s, "lapsed" .. i, "Customer " .. i, "2026-09-01T10:00:00Z")
  end
  s:advance("75d")
  local offers = {}
  for _, m in ipairs(s:messages()) do
    offers[m.profile] = offers[m.profile] or m.vars.code
    assert(offers[m.profile] == m.vars.code, m.profile .. " was offered two different codes")
    offers[m.vars.code] = true
  end
  assert(offers.BACK10 and offers.SHIPFREE, "both offers should be used across 12 customers")
end)
