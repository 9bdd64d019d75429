-- The test kit's own cart recipe (tests/cli/test_nudge_test.sh): an SMS
-- 30 minutes after checkout when the person agreed to texts, an email a
-- day later with what they left; buying ends it.  Half the people are
-- a control group.
return journey {
  name    = "kit_cart",
  trigger = { event = "Checkout Started" },
  exit_on = { "Order Completed" },
  holdout = 0.5,                  -- nobody is held out in a test unless s:holdout says so
  run = function(j)
    j:wait("30m")
    if j:consented("sms") then
      j:send("sms", "kit_cart_sms")
    end
    j:wait("24h")
    j:send("email", "kit_cart_email",
           { items = j.trigger.properties.products or {}, discount = 10 })
  end,
}
