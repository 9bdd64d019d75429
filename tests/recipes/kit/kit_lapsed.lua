-- An audience journey for the test kit's tests: once a day, whoever last
-- ordered 30 days ago or more gets one note (transactional: no consent).
return journey {
  name    = "kit_lapsed",
  trigger = {
    audience = function(p) return (p.days_since_last_order or 0) >= 30 end,
    every = "1d",
  },
  purpose = "transactional",
  run = function(j)
    j:send("note", "kit_lapsed")
  end,
}
