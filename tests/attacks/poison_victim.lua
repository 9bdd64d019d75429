-- Victim, run in the same `nudge run` as poison_attacker.lua (loaded after
-- it): uses string.upper through the string metatable and the library.
-- Expected: "A" both ways, whatever the attacker tried.
return journey {
  name = "poison_victim",
  trigger = { event = "Go" },
  run = function(j)
    j:send("email", "x", { v = ("a"):upper() .. string.upper("a") })
  end,
}
