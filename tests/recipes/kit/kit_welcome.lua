-- A transactional welcome with two messages the test kit captures without
-- rendering trouble and with: a push whose template names a value it is
-- never given (a captured failure), and a note on a channel without a
-- template (kept as its template name and vars).
return journey {
  name    = "kit_welcome",
  trigger = { event = "Signed Up" },
  purpose = "transactional",
  templates = {
    kit_welcome_push = { push = "Welcome, {{nickname}}!" },
  },
  run = function(j)
    j:send("push", "kit_welcome_push")
    j:send("note", "kit_note", { code = "T9" })
  end,
}
