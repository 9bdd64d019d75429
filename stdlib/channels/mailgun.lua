-- stdlib/channels/mailgun.lua: email through Mailgun's Messages API
-- (POST /v3/{domain}/messages, a form body, HTTP basic auth api:api_key).
-- cfg: domain, api_key_env, from; base_url replaces api.mailgun.net
-- (https://api.eu.mailgun.net for EU domains).
local codec = require "nudge.codec"

return {
  address = "email",
  email = true,

  request = function(msg, cfg)
    if not cfg.domain or not cfg.api_key or not cfg.from then
      error("channels." .. msg.channel .. " needs domain, api_key_env and from")
    end
    return {
      url = (cfg.base_url or "https://api.mailgun.net") .. "/v3/"
        .. codec.url_escape(cfg.domain) .. "/messages",
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
      body = codec.form {
        from = cfg.from, to = msg.to, subject = msg.subject,
        text = msg.text, html = msg.html,
        -- h: adds a header to the email, v: a variable Mailgun's events carry
        ["h:List-Unsubscribe"] = msg.list_unsubscribe,
        ["h:List-Unsubscribe-Post"] = msg.list_unsubscribe_post,
        ["v:nudge-key"] = msg.key,
      },
      username = "api",
      password = cfg.api_key,
    }
  end,

  -- Bounces come later through Mailgun's webhooks; at send time only a
  -- malformed recipient is certain: 400 "'to' parameter is not a valid address".
  outcome = function(msg, cfg, resp, verdict)
    if resp.status == 400 and resp.body
        and resp.body:find("'to' parameter is not a valid address", 1, true) then
      return { outcome = "failed", bounce = true, detail = "Mailgun: invalid address" }
    end
  end,
}
