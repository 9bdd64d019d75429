-- Test recipe: exercises every j: call once, for tests/cli/test_journeys.sh.
return journey {
  name = "handle",
  trigger = { event = "Start", where = function(event, profile)
    return event.properties.go == true and profile.plan == "pro"
  end },
  exit_on = { "Stop" },
  goal = { event = "Goal", within = "1d" },
  run = function(j)
    local p = j:profile()
    local keys = {}
    for k in pairs({ c = 1, a = 2, b = 3 }) do keys[#keys + 1] = k end
    j:log("plan", p.plan)
    local variant = j:split { a = 50, b = 50 }
    local reply = j:wait_for("Reply", "2h", function(e) return e.properties.ok end)
    j:send("email", "first", {
      variant = variant, keys = table.concat(keys), plan = p.plan,
      replied = reply ~= nil, at = j:now(), consented = j:consented("email"),
    })
    if reply == nil then j:exit("no reply") end
    j:wait("1d")
    j:send("email", "second")
  end,
}
