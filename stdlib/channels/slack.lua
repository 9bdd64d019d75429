-- stdlib/channels/slack.lua: a message to a Slack channel through an incoming
-- webhook.  The webhook's URL is a secret: give it as webhook_url_env.
-- Slack answers 200 "ok"; 4xx (invalid_payload, channel_not_found, ...) fail.
local codec = require "nudge.codec"

return {
  address = nil,
  email = false,

  request = function(msg, cfg)
    if not cfg.webhook_url then
      error("channels." .. msg.channel .. " needs webhook_url_env")
    end
    return {
      url = cfg.webhook_url,
      headers = { ["Content-Type"] = "application/json" },
      body = codec.json { text = msg.text },
    }
  end,
}
