-- stdlib/channels/smtp.lua: email through your own SMTP server (libcurl speaks
-- the protocol; text and HTML become a multipart/alternative message).
-- cfg: url ("smtp://host:587", or "smtps://host:465" for TLS from the start),
-- from ("Shop <shop@example.com>"), username and password_env for SMTP AUTH.
-- Replies 550, 551 and 553 are bounces (the default verdict).
return {
  address = "email",
  email = true,

  request = function(msg, cfg)
    if not cfg.url or not cfg.from then
      error("channels." .. msg.channel .. " needs url and from")
    end
    return {
      smtp = true,
      url = cfg.url,
      mail_from = cfg.from:match("<([^>]+)>") or cfg.from,   -- the envelope sender
      rcpt = { msg.to },
      headers = {
        From = cfg.from, To = msg.to, Subject = msg.subject,
        ["List-Unsubscribe"] = msg.list_unsubscribe,          -- marketing only
        ["List-Unsubscribe-Post"] = msg.list_unsubscribe_post,
      },
      text = msg.text,
      html = msg.html,
      username = cfg.username,
      password = cfg.password,
    }
  end,
}
