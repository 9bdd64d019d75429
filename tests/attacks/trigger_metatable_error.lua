-- Attack: as trigger_metatable.lua, but the host's unguarded read of
-- trigger.event raises an error instead of looping.
-- Expected: a clean failure (exit 0 or 2), not an abort of the process.
local reads = 0
local trigger = setmetatable({}, {
  __index = function(t, key)
    if key ~= "event" then return nil end
    reads = reads + 1
    if reads <= 4 then return "Go" end -- the reads journey{} makes (twice)
    error("boom")
  end,
})
return journey { name = "trigger_metatable_error", trigger = trigger, run = function(j) end }
