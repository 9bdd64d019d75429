-- Delivery tests: templates written in the recipe itself.
return journey {
  name = "deliver_inline",
  trigger = { event = "Trial Started" },
  templates = {
    trial = {
      hook = "Trial {{code}} for {{profile.first_name}}",
      email = { subject = "Your trial, {{profile.first_name}}",
                text = "Code {{code}}.", html = "<p>Code <b>{{code}}</b> & more</p>" },
    },
  },
  run = function(j)
    j:send("hook", "trial", { code = "T9" })
    j:send("email", "trial", { code = "T9" })
  end,
}
