-- Attack: load hand-made bytecode (binary chunks can crash the VM).
-- Expected: load refuses binary chunks: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "load_binary",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local f = load("\27Lua\84\0\25\147\r\n\26\n") -- error here
    end
    j:send("email", "ok")
  end,
}
