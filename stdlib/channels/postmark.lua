-- stdlib/channels/postmark.lua: email through Postmark's single-email API
-- (POST /email, JSON, X-Postmark-Server-Token).  cfg: server_token_env, from,
-- message_stream (default "outbound"; use your broadcast stream for marketing);
-- base_url replaces api.postmarkapp.com.
local codec = require "nudge.codec"

-- Postmark ErrorCodes (in a 422 answer) that mean the address is dead.
local DEAD_ADDRESS = {
  [406] = "inactive recipient (an earlier hard bounce or spam complaint)",
  [300] = "invalid email request",
}

-- A number member of the provider's JSON answer, or nil.
local function answer_number(body, name)
  local answer = codec.json_decode(body or "")
  local value = type(answer) == "table" and answer[name] or nil
  return math.type(value) and value or nil
end

return {
  address = "email",
  email = true,

  request = function(msg, cfg)
    if not cfg.server_token or not cfg.from then
      error("channels." .. msg.channel .. " needs server_token_env and from")
    end
    local headers = nil           -- RFC 8058 one-click unsubscribe (marketing)
    if msg.list_unsubscribe then
      headers = { { Name = "List-Unsubscribe", Value = msg.list_unsubscribe },
                  { Name = "List-Unsubscribe-Post", Value = msg.list_unsubscribe_post } }
    end
    return {
      url = (cfg.base_url or "https://api.postmarkapp.com") .. "/email",
      headers = { ["X-Postmark-Server-Token"] = cfg.server_token,
                  Accept = "application/json", ["Content-Type"] = "application/json" },
      body = codec.json {
        From = cfg.from, To = msg.to, Subject = msg.subject,
        TextBody = msg.text, HtmlBody = msg.html, Headers = headers,
        MessageStream = cfg.message_stream or "outbound",
        Metadata = { nudge_key = msg.key },
      },
    }
  end,

  -- A 422 body is {"ErrorCode": 406, "Message": "..."}.
  outcome = function(msg, cfg, resp, verdict)
    if resp.status == 422 and resp.body then
      local reason = DEAD_ADDRESS[answer_number(resp.body, "ErrorCode")]
      if reason then
        return { outcome = "failed", bounce = true, detail = "Postmark: " .. reason }
      end
    end
  end,
}
