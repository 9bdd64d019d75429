-- Test recipe: re-entry at most once per 7 days, 50% holdout.
return journey {
  name = "reentry",
  trigger = { event = "Checkout Started" },
  reentry = "7d",
  holdout = 0.5,
  run = function(j)
    j:send("sms", "hello")
  end,
}
