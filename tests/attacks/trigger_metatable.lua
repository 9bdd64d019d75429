-- Attack: a trigger table whose __index answers journey{}'s checks and then
-- loops forever.  journey{} keeps the recipe's own trigger table, and the
-- host reads trigger.event from it after loading, outside the CPU budget.
-- Expected: `nudge run` finishes (exit 0 or 2), whatever it decides.
local reads = 0
local trigger = setmetatable({}, {
  __index = function(t, key)
    if key ~= "event" then return nil end
    reads = reads + 1
    if reads <= 4 then return "Go" end -- the reads journey{} makes (twice)
    while true do end
  end,
})
return journey { name = "trigger_metatable", trigger = trigger, run = function(j) end }
