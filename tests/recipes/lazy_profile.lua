-- Test recipe: trigger.where gets the profile as a table loaded on first
-- use (pairs, #, fields, writes); a where that keeps it for later makes
-- that later use fail.  j:wait_for without a filter, replayed after a wait.
local kept
return journey {
  name = "lazy_profile",
  trigger = { event = "View", where = function(event, profile)
    if event.properties.keep then kept = profile end
    if not event.properties.check then return true end
    local keys, sorted = {}, true
    for k in pairs(profile) do
      if #keys > 0 and keys[#keys] >= k then sorted = false end
      keys[#keys + 1] = k
    end
    local all = "," .. table.concat(keys, ",") .. ","
    profile.seen = true
    return sorted and all:find(",id,", 1, true) ~= nil and all:find(",plan,", 1, true) ~= nil
      and #profile == 0 and next(profile) == nil and profile.seen == true
      and profile.plan == "pro"
  end },
  run = function(j)
    if kept then
      local profile = kept
      kept = nil
      return profile.plan -- error here
    end
    local again = j:wait_for("View", "1d")
    j:wait("1h")
    j:send("email", "again", { sku = again and again.properties.sku })
  end,
}
