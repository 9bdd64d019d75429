-- stdlib/channels/twilio.lua: SMS through Twilio's Messages API
-- (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, a form body, HTTP basic
-- auth account_sid:auth_token).  cfg: account_sid, auth_token_env, and from (a
-- Twilio number) or messaging_service_sid; base_url replaces api.twilio.com.
local codec = require "nudge.codec"

-- Twilio error codes that mean the number will never take a message.
local DEAD_NUMBER = {
  [21211] = "invalid 'To' number",
  [21614] = "'To' is not a mobile number",
  [21610] = "the recipient replied STOP (unsubscribed)",
}

-- A number member of the provider's JSON answer, or nil.
local function answer_number(body, name)
  local answer = codec.json_decode(body or "")
  local value = type(answer) == "table" and answer[name] or nil
  return math.type(value) and value or nil
end

-- cfg[key], or an error at the caller's line naming the config key to add.
local function need(msg, cfg, key, config_key)
  local value = cfg[key]
  if value == nil then
    error("channels." .. msg.channel .. " needs " .. (config_key or key), 2)
  end
  return value
end

return {
  address = "phone",
  email = false,

  request = function(msg, cfg)
    local sid = need(msg, cfg, "account_sid")
    local form = { To = msg.to, Body = msg.text }
    if cfg.messaging_service_sid then
      form.MessagingServiceSid = cfg.messaging_service_sid
    else
      form.From = need(msg, cfg, "from")
    end
    return {
      url = (cfg.base_url or "https://api.twilio.com") .. "/2010-04-01/Accounts/"
        .. codec.url_escape(sid) .. "/Messages.json",
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
      body = codec.form(form),
      username = sid,
      password = need(msg, cfg, "auth_token", "auth_token_env"),
    }
  end,

  -- A 4xx body is {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
  outcome = function(msg, cfg, resp, verdict)
    if resp.status >= 400 and resp.status < 500 and resp.body then
      local reason = DEAD_NUMBER[answer_number(resp.body, "code")]
      if reason then
        return { outcome = "failed", bounce = true, detail = "Twilio: " .. reason }
      end
    end
  end,
}
