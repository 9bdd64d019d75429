-- Delivery tests: on "Signed Up", one message on each channel the event
-- names (properties.channels), with the template "welcome".
return journey {
  name = "deliver_now",
  trigger = { event = "Signed Up" },
  reentry = true,
  run = function(j)
    local p = j.trigger.properties
    for _, channel in ipairs(p.channels) do
      j:send(channel, p.template or "welcome",
             { code = p.code or "A1", items = { { name = "Mug", price = 12 }, { name = "Tee & Cap", price = 19.5 } } })
    end
  end,
}
