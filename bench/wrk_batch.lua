-- bench/wrk_batch.lua: the wrk script of the service bench (bench/service.sh).
-- Every request POSTs /v1/batch with BATCH new Segment events (messageIds
-- unique per thread and request, so none is a duplicate): product views,
-- checkouts, orders, identifies and a few sign-ups of USERS people, with
-- HTTP Basic auth (the write key as the user name).
--
--   wrk -t2 -c32 -d10s --latency -s bench/wrk_batch.lua http://HOST:PORT -- KEY [USERS] [BATCH] [PAUSE_MS]
--
-- PAUSE_MS (default 0): each connection waits that long after an answer
-- before its next request, so the offered load is about
-- connections x BATCH / (PAUSE_MS + latency) events per second.
--
-- done() prints one line for the bench to read:
--   wrk_batch: ok N other N sent N duration_us N p50_us N p99_us N errors N statuses S
-- ok: answers 200; other: any other status; sent: requests generated
-- (those wrk still had in flight when it stopped, plus the one it builds to
-- check the script, are sent but not answered); statuses: "200:N,503:N".

local threads = {}

local PRODUCTS = {
  { "p1001", "SKU-1001", "Trail Runner Shoes", "89.00" },
  { "p1002", "SKU-1002", "Merino Wool Socks", "18.00" },
  { "p1003", "SKU-1003", "Rain Shell Jacket", "149.00" },
  { "p1004", "SKU-1004", "Insulated Bottle", "29.00" },
  { "p1005", "SKU-1005", "Canvas Daypack", "59.00" },
  { "p1006", "SKU-1006", "Trekking Poles", "79.00" },
  { "p1007", "SKU-1007", "Running Cap", "22.00" },
  { "p1008", "SKU-1008", "Headlamp 300", "39.00" },
  { "p1009", "SKU-1009", "Camp Stove", "64.00" },
  { "p1010", "SKU-1010", "Enamel Camp Mug", "14.00" },
  { "p1011", "SKU-1011", "Fleece Pullover", "69.00" },
  { "p1012", "SKU-1012", "Sleeping Pad", "99.00" },
}
local NAMES = { "Emma", "Liam", "Diego", "Kemi", "Aiko", "Noah", "Maya", "Omar" }
local PLANS = { "free", "basic", "pro" }
local ZONES = { "America/New_York", "America/Chicago", "Europe/London", "Europe/Berlin",
                "Asia/Tokyo", "Australia/Sydney" }

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = math.min(#s - i + 1, 3) + 1 -- the rest is "=" padding
    for k = 1, 4 do
      local v = math.floor(n / 64 ^ (4 - k)) % 64
      out[#out + 1] = k <= chars and B64:sub(v + 1, v + 1) or "="
    end
  end
  return table.concat(out)
end

-- Main state: remember each thread, give it its number.
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

-- Thread state from here on.
function init(args)
  local key = args[1] or error("wrk_batch.lua: pass the write key after --")
  users = tonumber(args[2] or "5000")
  batch = tonumber(args[3] or "100")
  pause_ms = tonumber(args[4] or "0")
  sent, ok, other, statuses = 0, 0, 0, {}
  math.randomseed(20261102 + tid)
  wrk.method = "POST"
  wrk.path = "/v1/batch"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. base64(key .. ":")
end

local function product_json(p)
  return string.format('"product_id":"%s","sku":"%s","name":"%s","price":%s', p[1], p[2], p[3], p[4])
end

-- One event for user number U, as JSON text.
local function event(id, u, now)
  local r = math.random()
  local user = string.format("w%05d", u)
  if r < 0.60 then
    local p = PRODUCTS[math.random(#PRODUCTS)]
    return string.format('{"type":"track","event":"Product Viewed","messageId":"%s","userId":"%s",'
      .. '"timestamp":"%s","properties":{%s}}', id, user, now, product_json(p))
  elseif r < 0.75 then
    local p = PRODUCTS[math.random(#PRODUCTS)]
    return string.format('{"type":"track","event":"Checkout Started","messageId":"%s","userId":"%s",'
      .. '"timestamp":"%s","properties":{"products":[{%s,"quantity":1}],"revenue":%s,"currency":"USD"}}',
      id, user, now, product_json(p), p[4])
  elseif r < 0.85 then
    local p = PRODUCTS[math.random(#PRODUCTS)]
    return string.format('{"type":"track","event":"Order Completed","messageId":"%s","userId":"%s",'
      .. '"timestamp":"%s","properties":{"order_id":"o-%s","products":[{%s,"quantity":1}],'
      .. '"revenue":%s,"currency":"USD"}}', id, user, now, id, product_json(p), p[4])
  elseif r < 0.97 then
    return string.format('{"type":"identify","messageId":"%s","userId":"%s","timestamp":"%s",'
      .. '"traits":{"first_name":"%s","plan":"%s","timezone":"%s","consent":{"sms":%s,"email":true}}}',
      id, user, now, NAMES[u % #NAMES + 1], PLANS[u % #PLANS + 1], ZONES[u % #ZONES + 1],
      u % 3 == 0 and "true" or "false")
  end
  return string.format('{"type":"track","event":"Signed Up","messageId":"%s","userId":"%s",'
    .. '"timestamp":"%s","properties":{"plan":"%s"}}', id, user, now, PLANS[u % #PLANS + 1])
end

function request()
  sent = sent + 1
  local now = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
  local events = {}
  for i = 1, batch do
    events[i] = event(string.format("wrk-%d-%d-%d", tid, sent, i), math.random(0, users - 1), now)
  end
  return wrk.format(nil, nil, nil, '{"batch":[' .. table.concat(events, ",") .. "]}")
end

function delay()
  return pause_ms
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
  statuses[status] = (statuses[status] or 0) + 1
end

-- Main state again: add up the threads' counts.
function done(summary, latency, requests)
  local total_ok, total_other, total_sent, by_status = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
    total_sent = total_sent + thread:get("sent")
    for status, n in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local list = {}
  for status, n in pairs(by_status) do list[#list + 1] = status .. ":" .. n end
  table.sort(list)
  local e = summary.errors
  io.write(string.format("wrk_batch: ok %d other %d sent %d duration_us %d p50_us %d p99_us %d "
    .. "errors %d statuses %s\n", total_ok, total_other, total_sent, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    #list > 0 and table.concat(list, ",") or "none"))
end
