-- Attack: a to-be-closed variable whose __close loops forever.  Lua runs
-- __close handlers while unwinding an error raised by the CPU-budget hook,
-- with hooks off, so such a handler could never be stopped.
-- Expected: setmetatable refuses __close: u1's instance fails on the line
-- marked "error here".
-- Only u1 attacks; u2's send shows the run goes on for others.
return journey {
  name = "coroutine_close",
  trigger = { event = "Go" },
  run = function(j)
    if j.trigger.userId == "u1" then
      local co = coroutine.create(function()
        local x <close> = setmetatable({}, { __close = function() while true do end end }) -- error here
        while true do end
      end)
      local ok, err = coroutine.resume(co)
      coroutine.close(co)
      error(err, 0) -- the coroutine's own error, passed on
    end
    j:send("email", "ok")
  end,
}
