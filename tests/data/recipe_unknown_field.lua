-- A recipe with a misspelt journey field on line 7 ("exit_when" for
-- "exit_on").  `nudge run` must refuse it with exit code 2 and a message
-- that names the field and the recipe line.
return journey {
  name      = "misspelt_field",
  trigger   = { event = "Checkout Started" },
  exit_when = { "Order Completed" },
  run = function(j)
    j:wait("30m")
  end,
}
