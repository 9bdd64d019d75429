-- Attack, in one `nudge run` with poison_victim.lua: try every way to make
-- string.upper answer "pwned", at load time and in each instance, each
-- attempt inside pcall so that this recipe keeps going.
-- Expected: every attempt fails (the outbox shows false for each) and the
-- victim's ("a"):upper() is still "A".
local function poison()
  local pwned = function() return "pwned" end
  return {
    assign = pcall(function() string.upper = pwned end),
    rawset = pcall(rawset, string, "upper", pwned),
    metatable = pcall(function() getmetatable("").__index = { upper = pwned } end),
    setmetatable = pcall(setmetatable, string, { __index = { upper = pwned } }),
  }
end

local at_load = poison()

return journey {
  name = "poison_attacker",
  trigger = { event = "Go" },
  run = function(j)
    local now = poison()
    j:send("email", "attempts", {
      load_assign = at_load.assign, load_rawset = at_load.rawset,
      load_metatable = at_load.metatable, load_setmetatable = at_load.setmetatable,
      assign = now.assign, rawset = now.rawset,
      metatable = now.metatable, setmetatable = now.setmetatable,
      upper = ("a"):upper(),
    })
  end,
}
