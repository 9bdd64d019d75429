-- Attack: open a file through the io library.
-- Expected: `io` is not a global: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "io",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local f = io.open("/etc/passwd", "r") -- error here
    end
    j:send("email", "ok")
  end,
}
