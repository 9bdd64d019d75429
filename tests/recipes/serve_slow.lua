-- `nudge serve` tests: the inbox.  Each "Slow Event" costs the engine some
-- milliseconds of work, so acknowledged events wait in the inbox a while.
return journey {
  name = "serve_slow",
  trigger = { event = "Slow Event" },
  reentry = true,
  run = function(j)
    local x = 0
    for i = 1, 1500000 do x = x + i % 7 end
    j:log("slow " .. x)
  end,
}
