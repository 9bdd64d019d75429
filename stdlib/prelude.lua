-- The globals every recipe sees beside Lua's safe libraries: `journey`,
-- which checks a recipe's declaration, and a `pairs` that walks keys in
-- sorted order so that every run of a journey is reproducible.
local time = require "nudge.time"

local rank = { number = 1, string = 2, boolean = 3 }

local function before(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (rank[ta] or 4) < (rank[tb] or 4) end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return b and not a end
  return false
end

local function sorted_pairs(t)
  local mt = getmetatable(t)
  if type(mt) == "table" and mt.__pairs then return mt.__pairs(t) end
  local keys, n = {}, 0
  for k in next, t do n = n + 1; keys[n] = k end
  table.sort(keys, before)
  local i = 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, t[k] end
  end, t, nil
end

local fields = {
  name = true, trigger = true, exit_on = true, goal = true, reentry = true,
  holdout = true, run = true, purpose = true, description = true,
}

local function fail(fmt, ...)
  error(string.format(fmt, ...), 0)
end

local function seconds(value, field)
  local s, err = time.duration(value)
  if not s then fail("%s: %s", field, err) end
  return s
end

local function check_trigger(t)
  if type(t) ~= "table" then fail("'trigger' must be a table like { event = \"Checkout Started\" }") end
  if t.audience ~= nil then fail("audience triggers are not supported yet; use { event = ... }") end
  if type(t.event) ~= "string" or t.event == "" then fail("trigger.event must be an event name") end
  if t.where ~= nil and type(t.where) ~= "function" then
    fail("trigger.where must be a function(event, profile)")
  end
end

local function event_list(value, field)
  if value == nil then return {} end
  if type(value) == "string" then return { value } end
  if type(value) ~= "table" then fail("'%s' must be an event name or a list of them", field) end
  for i, name in ipairs(value) do
    if type(name) ~= "string" then fail("%s[%d] must be an event name", field, i) end
  end
  return value
end

local function check_goal(goal)
  if goal == nil then return nil end
  if type(goal) ~= "table" or type(goal.event) ~= "string" then
    fail("'goal' must be a table like { event = \"Order Completed\", within = \"3d\" }")
  end
  return { event = goal.event, within = goal.within and seconds(goal.within, "goal.within") }
end

local function check_reentry(value)
  if value == nil or value == false then return false end
  if value == true then return true end
  return seconds(value, "reentry")
end

local function validate(spec)
  if type(spec) ~= "table" then fail("expected a table: journey { name = ..., run = ... }") end
  for key in next, spec do
    if not fields[key] then fail("unknown field '%s'", tostring(key)) end
  end
  if type(spec.name) ~= "string" or not spec.name:match("^[%w_%-]+$") then
    fail("'name' must be letters, digits, '_' or '-'")
  end
  check_trigger(spec.trigger)
  if type(spec.run) ~= "function" then fail("'run' must be a function(j)") end
  local holdout = spec.holdout or 0
  if type(holdout) ~= "number" or holdout < 0 or holdout >= 1 then
    fail("'holdout' must be a fraction from 0 to below 1, e.g. 0.10")
  end
  local purpose = spec.purpose or "marketing"
  if purpose ~= "marketing" and purpose ~= "transactional" then
    fail("'purpose' must be \"marketing\" or \"transactional\"")
  end
  return {
    name = spec.name, trigger = spec.trigger, run = spec.run, holdout = holdout,
    purpose = purpose, exit_on = event_list(spec.exit_on, "exit_on"),
    goal = check_goal(spec.goal), reentry = check_reentry(spec.reentry),
    description = spec.description,
  }
end

-- Errors point at the recipe line that called journey{}.
local function journey(spec)
  local ok, result = pcall(validate, spec)
  if not ok then error("journey: " .. tostring(result), 2) end
  return result
end

return { journey = journey, pairs = sorted_pairs }
