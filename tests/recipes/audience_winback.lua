-- Test recipe for tests/cli/test_audience.sh: customers who have not
-- ordered for 60 days, checked daily; once per 90 days at most.
return journey {
  name = "audience_winback",
  trigger = {
    audience = function(p) return p.order_count > 0 and p.days_since_last_order >= 60 end,
    every = "1d",
  },
  reentry = "90d",
  run = function(j)
    j:send("email", "winback", { audience = j.trigger.properties.audience,
                                 event = j.trigger.event, days = j:profile().days_since_last_order })
  end,
}
