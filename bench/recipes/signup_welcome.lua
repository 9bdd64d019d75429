-- Bench rule: a welcome email at sign-up, then a day later one of two tips
-- emails (a stable A/B split) unless they have started browsing; an SMS
-- nudge for those who agreed to texts and still have not looked around.
return journey {
  name    = "signup_welcome",
  trigger = { event = "Signed Up" },
  exit_on = { "Order Completed" },
  goal    = { event = "Product Added", within = "7d" },
  run = function(j)
    local profile = j:profile()
    j:send("email", "welcome", { first_name = profile.first_name or "there" })
    local browsed = j:wait_for("Product Viewed", "1d")
    if browsed then
      j:log("browsing already; no tips needed")
      return
    end
    local variant = j:split{ a = 50, b = 50 }
    j:send("email", "welcome_tips_" .. variant, { first_name = profile.first_name or "there" })
    j:wait("2d")
    if j:consented("sms") then
      j:send("sms", "welcome_sms")
    end
  end,
}
