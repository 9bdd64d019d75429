-- Test recipe for tests/cli/test_profiles.sh: a marketing email at once on
-- "Ping" (no holdout, re-entry allowed), its vars read from j:profile()
-- (traits and computed traits); the send result goes to the history.
return journey {
  name = "profile_send",
  trigger = { event = "Ping" },
  reentry = true,
  run = function(j)
    local p = j:profile()
    local viewed = p.events["Product Viewed"] or {}
    local orders = p.events["Order Completed"] or {}
    local r = j:send("email", "hello", {
      id = p.id, first_name = p.first_name, email = p.email, phone = p.phone,
      plan = p.plan, first_seen = p.first_seen, last_seen = p.last_seen,
      order_count = p.order_count, revenue_total = p.revenue_total,
      days_since_last_order = p.days_since_last_order,
      viewed = viewed.count, viewed_last_at = viewed.last_at, orders_counted = orders.count,
    })
    j:log("send", r.status, r.reason)
  end,
}
