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

local lua_pairs = pairs -- Lua's own: calls __pairs, even behind a locked metatable

-- A __pairs that hands back `next` and a table (nudge's lazily loaded
-- tables do) gets that table's keys in sorted order too.
local function sorted_pairs(t)
  local iter, state, start = lua_pairs(t)
  if iter ~= next or start ~= nil then return iter, state, start end
  local keys, n = {}, 0
  for k in next, state do n = n + 1; keys[n] = k end
  table.sort(keys, before)
  local i = 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, state[k] end
  end, state, nil
end

local fields = {
  name = true, trigger = true, exit_on = true, goal = true, reentry = true,
  holdout = true, run = true, purpose = true, description = true, caps = true,
  templates = true,
}

local function fail(fmt, ...)
  error(string.format(fmt, ...), 0)
end

local function seconds(value, field)
  local s, err = time.duration(value)
  if type(s) ~= "number" then fail("%s: %s", field, err or "expected a duration") end
  return s
end

-- Checks return fresh tables: the host reads only what they build.
-- A trigger is an event ({ event = NAME, where = function(event, profile) })
-- or an audience checked on a schedule ({ audience = function(profile),
-- every = DURATION }, at least a minute apart).
local function check_audience(audience, every, event, where)
  if event ~= nil or where ~= nil then
    fail("trigger: either { event = ..., where = ... } or { audience = ..., every = ... }, not both")
  end
  if type(audience) ~= "function" then
    fail("trigger.audience must be a function(profile) returning true for who enters")
  end
  if every == nil then
    fail("trigger.every is required with trigger.audience: how often to check it, e.g. \"1d\"")
  end
  local s = seconds(every, "trigger.every")
  if s < 60 then fail("trigger.every must be at least \"1m\"") end
  if s == math.huge then fail("trigger.every must be a finite duration") end
  return { audience = audience, every = s }
end

local function check_trigger(t)
  if type(t) ~= "table" then fail("'trigger' must be a table like { event = \"Checkout Started\" }") end
  local event, where, audience, every = t.event, t.where, t.audience, t.every
  if audience ~= nil then return check_audience(audience, every, event, where) end
  if every ~= nil then fail("trigger.every goes with trigger.audience, not with an event trigger") end
  if type(event) ~= "string" or event == "" then fail("trigger.event must be an event name") end
  if where ~= nil and type(where) ~= "function" then
    fail("trigger.where must be a function(event, profile)")
  end
  return { event = event, where = where }
end

local function event_list(value, field)
  if value == nil then return {} end
  if type(value) == "string" then return { value } end
  if type(value) ~= "table" then fail("'%s' must be an event name or a list of them", field) end
  local names = {}
  for i = 1, #value do
    local name = value[i]
    if type(name) ~= "string" then fail("%s[%d] must be an event name", field, i) end
    names[i] = name
  end
  return names
end

local function check_goal(goal)
  if goal == nil then return nil end
  local event, within = type(goal) == "table" and goal.event, type(goal) == "table" and goal.within
  if type(event) ~= "string" then
    fail("'goal' must be a table like { event = \"Order Completed\", within = \"3d\" }")
  end
  return { event = event, within = within and seconds(within, "goal.within") or nil }
end

local function check_reentry(value)
  if value == nil or value == false then return false end
  if value == true then return true end
  return seconds(value, "reentry")
end

-- templates = { cart_sms = { sms = "text" }, welcome = { email = { subject = ...,
-- text = ..., html = ... } } }: messages written in the recipe itself, used
-- before the files in templates/ (docs/templates.md)
local parts = { subject = true, text = true, html = true }
local function check_templates(templates)
  if templates == nil then return end
  local example = '{ welcome = { sms = "Hi {{profile.first_name}}" } }'
  if type(templates) ~= "table" then fail("'templates' must be a table like %s", example) end
  for name, by_channel in next, templates do
    if type(name) ~= "string" or type(by_channel) ~= "table" then
      fail("'templates' must be a table like %s", example)
    end
    for channel, t in next, by_channel do
      local where = string.format("templates.%s.%s", name, tostring(channel))
      if type(channel) ~= "string" then fail("'%s': a channel name, like sms", where) end
      if type(t) == "table" then
        for part, text in next, t do
          if not parts[part] or type(text) ~= "string" then
            fail("'%s': a text, or a table of subject, text and html texts", where)
          end
        end
      elseif type(t) ~= "string" then
        fail("'%s': a text, or a table of subject, text and html texts", where)
      end
    end
  end
end

local function validate(spec)
  if type(spec) ~= "table" then fail("expected a table: journey { name = ..., run = ... }") end
  for key in next, spec do
    if not fields[key] then fail("unknown field '%s'", tostring(key)) end
  end
  local name = spec.name  -- each field is read once: what is checked is what is kept
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") then
    fail("'name' must be letters, digits, '_' or '-'")
  end
  local trigger, run = check_trigger(spec.trigger), spec.run
  if type(run) ~= "function" then fail("'run' must be a function(j)") end
  local holdout = spec.holdout or 0
  if type(holdout) ~= "number" or holdout < 0 or holdout >= 1 then
    fail("'holdout' must be a fraction from 0 to below 1, e.g. 0.10")
  end
  local purpose = spec.purpose or "marketing"
  if purpose ~= "marketing" and purpose ~= "transactional" then
    fail("'purpose' must be \"marketing\" or \"transactional\"")
  end
  local description = spec.description
  if description ~= nil and type(description) ~= "string" then
    fail("'description' must be a string")
  end
  -- caps = { email = {1, "3d"} }: this journey's own frequency caps, checked
  -- in C like the config's (docs/guardrails.md)
  if spec.caps ~= nil and type(spec.caps) ~= "table" then
    fail("'caps' must be a table like { email = {1, \"3d\"} }")
  end
  check_templates(spec.templates)
  return {
    name = name, trigger = trigger, run = run, holdout = holdout, purpose = purpose,
    templates = spec.templates,
    exit_on = event_list(spec.exit_on, "exit_on"), goal = check_goal(spec.goal),
    reentry = check_reentry(spec.reentry), description = description, caps = spec.caps,
  }
end

-- Errors point at the recipe line that called journey{}.
local function journey(spec)
  local ok, result = pcall(validate, spec)
  if not ok then error("journey: " .. tostring(result), 2) end
  return result
end

return { journey = journey, pairs = sorted_pairs }
