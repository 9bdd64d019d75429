-- stdlib/channels/fcm.lua: push notifications through Firebase Cloud Messaging's
-- HTTP v1 API (POST /v1/projects/{project_id}/messages:send, JSON, Bearer token).
-- The address is the profile trait fcm_token (the app's registration token).
-- cfg: project_id, access_token_env (an OAuth 2.0 token for a service account
-- with the firebase.messaging scope; it is read when nudge starts), title (used
-- when the message has no subject); base_url replaces fcm.googleapis.com.
local codec = require "nudge.codec"

return {
  address = "fcm_token",
  email = false,

  request = function(msg, cfg)
    if not cfg.project_id or not cfg.access_token then
      error("channels." .. msg.channel .. " needs project_id and access_token_env")
    end
    return {
      url = (cfg.base_url or "https://fcm.googleapis.com") .. "/v1/projects/"
        .. codec.url_escape(cfg.project_id) .. "/messages:send",
      headers = { Authorization = "Bearer " .. cfg.access_token,
                  ["Content-Type"] = "application/json" },
      body = codec.json {
        message = {
          token = msg.to,
          notification = { title = msg.subject or cfg.title, body = msg.text },
          data = { nudge_key = msg.key },
        },
      },
    }
  end,

  -- 404 with errorCode UNREGISTERED: the app was removed or the token expired.
  -- It fails without a retry (the default for a 404) and with a clear detail.
  outcome = function(msg, cfg, resp, verdict)
    if resp.status == 404 and resp.body and resp.body:find('"UNREGISTERED"', 1, true) then
      return { outcome = "failed", detail = "FCM: token unregistered (app removed or token expired)" }
    end
  end,
}
