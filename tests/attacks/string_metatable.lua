-- Attack: poison the metatable every string shares, so that ("a"):upper()
-- answers "pwned" for everyone in this Lua state.
-- Expected: getmetatable("") gives only the string "protected", so the
-- assignment fails on the line marked "error here"; u2, in the same state,
-- still gets the real upper.
return journey {
  name = "string_metatable",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local mt = getmetatable("")
      j:log("metatable is", mt)
      mt.__index = { upper = function() return "pwned" end } -- error here
    end
    j:send("email", "ok", { v = ("a"):upper(), mt = getmetatable("") })
  end,
}
