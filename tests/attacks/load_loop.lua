-- Attack: an infinite loop while the recipe loads (top-level code).
-- Expected: the CPU budget stops it; `nudge run` exits 2 naming the line
-- marked "error here".
local n = 0
while true do n = n + 1 end -- error here
return journey { name = "load_loop", trigger = { event = "Go" }, run = function(j) end }
