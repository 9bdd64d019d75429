-- Onboarding: a welcome email when someone signs up, then a tip on day 1,
-- day 3 and day 7, each at 10:00 in their own time zone.  A tip is skipped
-- when they have already done what it asks; a first order ends the series.
return journey {
  name    = "onboarding",
  trigger = { event = "Signed Up" },
  exit_on = { "Order Completed" },                 -- they bought: onboarded
  goal    = { event = "Order Completed", within = "14d" },
  run = function(j)
    -- Sleeps until 10:00 their time, `days` mornings from now.
    local function mornings_later(days)
      for _ = 1, days do
        j:wait_until("00:00")                       -- the next midnight,
        j:wait_until("10:00")                       -- then 10:00 that morning
      end
    end

    j:send("email", "welcome")                      -- day 0: right away

    mornings_later(1)                               -- day 1
    if j:count("Profile Completed") == 0 then
      j:send("email", "complete_profile")
    end

    mornings_later(2)                               -- day 3
    if j:count("Product Added") == 0 then
      local channel = j:consented("push") and "push" or "email"
      j:send(channel, "first_picks")                -- a push if they allow it
    end

    mornings_later(4)                               -- day 7: not bought yet
    j:send("email", "first_order", { discount = 15 })
  end,
}
