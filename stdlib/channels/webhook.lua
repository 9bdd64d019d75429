-- stdlib/channels/webhook.lua: POSTs each message as JSON to your own
-- endpoint (cfg.url).  No address: the receiver decides who gets what.
--
-- Signing (when the channel has secret_env): two headers go with the body,
--   X-Nudge-Timestamp: <msg.created_at, Unix seconds>
--   X-Nudge-Signature: sha256=<hex HMAC-SHA256(secret, timestamp .. "." .. body)>
-- To verify, recompute the HMAC over the timestamp header, a ".", and the raw
-- body bytes, and compare in constant time.  The timestamp is when the message
-- was made, the same on every retry (so is Idempotency-Key: de-duplicate on it);
-- do not refuse a request only because the timestamp is old.
local codec = require "nudge.codec"

return {
  address = nil,
  email = false,

  request = function(msg, cfg)
    if not cfg.url then error("channels." .. msg.channel .. " needs url") end
    local body = codec.json {
      key = msg.key, channel = msg.channel, template = msg.template,
      journey = msg.journey, profile_id = msg.profile_id, purpose = msg.purpose,
      to = msg.to, vars = msg.vars, subject = msg.subject, text = msg.text,
      html = msg.html, created_at = msg.created_at,
    }
    local headers = { ["Content-Type"] = "application/json" }
    if cfg.secret then
      local timestamp = tostring(msg.created_at)
      headers["X-Nudge-Timestamp"] = timestamp
      headers["X-Nudge-Signature"] =
        "sha256=" .. codec.hmac_sha256_hex(cfg.secret, timestamp .. "." .. body)
    end
    return { url = cfg.url, method = "POST", headers = headers, body = body }
  end,
}
