-- Attack: a table that doubles until memory runs out.  table.move copies in
-- C, so memory runs out before the CPU budget (a Lua loop of t[i] = i would
-- hit the CPU budget first).
-- Expected: the memory cap stops it: u1's instance fails on the line marked
-- "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "memory_table",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local t = { 1 } while true do table.move(t, 1, #t, #t + 1) end -- error here
    end
    j:send("email", "ok")
  end,
}
