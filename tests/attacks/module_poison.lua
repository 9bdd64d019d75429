-- Attack: replace a function of a nudge.* module.  Module tables are cached
-- per Lua state, and every instance of this recipe shares the state, so a
-- writable module lets u1's instance change what u2's instance computes.
-- Expected: module tables are read-only like the libraries: u1's instance
-- fails on the line marked "error here" and u2 gets the real time.iso.
return journey {
  name = "module_poison",
  trigger = { event = "Go" },
  run = function(j)
    local time = require("nudge.time")
    if j.trigger.userId == "u1" then
      time.iso = function() return "pwned" end -- error here
    end
    j:send("email", "ok", { at = time.iso(0) })
  end,
}
