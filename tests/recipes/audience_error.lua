-- Test recipe for tests/cli/test_audience.sh: an audience function that
-- raises for one person and runs out of CPU time for another; everyone
-- else enters.
return journey {
  name = "audience_error",
  trigger = {
    audience = function(p)
      if p.id == "u2" then error("no verdict for " .. p.id) end
      if p.id == "u3" then while true do end end
      return p.id ~= nil
    end,
    every = "1h",
  },
  run = function(j)
    j:log("entered")
  end,
}
