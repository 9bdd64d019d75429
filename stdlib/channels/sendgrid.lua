-- stdlib/channels/sendgrid.lua: email through SendGrid's v3 Mail Send API
-- (POST /v3/mail/send, JSON, Authorization: Bearer api_key; 202 = accepted).
-- cfg: api_key_env, from ("Shop <shop@example.com>"); base_url replaces
-- api.sendgrid.com (https://api.eu.sendgrid.com for EU subusers).
local codec = require "nudge.codec"

-- "Shop <shop@example.com>" -> { email = "shop@example.com", name = "Shop" }
-- (simple patterns: the sandbox refuses ones whose worst case runs long)
local function contact(address)
  local email = address:match("<([^>]*)>")
  if not email then return { email = address } end
  local name = address:sub(1, address:find("<", 1, true) - 1)
  name = name:gsub('^%s*"?', ""):gsub('"?%s*$', "")
  return { email = email, name = name ~= "" and name or nil }
end

return {
  address = "email",
  email = true,

  request = function(msg, cfg)
    if not cfg.api_key or not cfg.from then
      error("channels." .. msg.channel .. " needs api_key_env and from")
    end
    local content = {}            -- SendGrid wants text/plain before text/html
    if msg.text then content[#content + 1] = { type = "text/plain", value = msg.text } end
    if msg.html then content[#content + 1] = { type = "text/html", value = msg.html } end
    if #content == 0 then error("the message has neither text nor html") end
    local headers = nil           -- RFC 8058 one-click unsubscribe (marketing)
    if msg.list_unsubscribe then
      headers = { ["List-Unsubscribe"] = msg.list_unsubscribe,
                  ["List-Unsubscribe-Post"] = msg.list_unsubscribe_post }
    end
    return {
      url = (cfg.base_url or "https://api.sendgrid.com") .. "/v3/mail/send",
      headers = { Authorization = "Bearer " .. cfg.api_key,
                  ["Content-Type"] = "application/json" },
      body = codec.json {
        personalizations = { { to = { { email = msg.to } } } },
        from = contact(cfg.from),
        subject = msg.subject,
        content = content,
        headers = headers,
        custom_args = { nudge_key = msg.key },   -- comes back in SendGrid's events
      },
    }
  end,

  -- Bounces come later through SendGrid's event webhook; at send time only a
  -- malformed recipient is certain: 400 on field personalizations.0.to.0.email.
  outcome = function(msg, cfg, resp, verdict)
    if resp.status == 400 and resp.body
        and resp.body:find("personalizations.0.to.0.email", 1, true) then
      return { outcome = "failed", bounce = true, detail = "SendGrid: invalid address" }
    end
  end,
}
