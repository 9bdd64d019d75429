-- Attack: end the host process while the recipe loads.
-- Expected: `os` is not a global; `nudge run` exits 2 naming the line
-- marked "error here" (not 0, as os.exit(0) would).
os.exit(0) -- error here
return journey { name = "load_exit", trigger = { event = "Go" }, run = function(j) end }
