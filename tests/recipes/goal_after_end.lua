-- Goals tests: the journey sends once and ends; an order within 3 days
-- still counts as its goal.
return journey {
  name = "goal_after_end",
  trigger = { event = "Checkout Started" },
  goal = { event = "Order Completed", within = "3d" },
  reentry = true,
  run = function(j)
    j:send("email", "nudge")
  end,
}
