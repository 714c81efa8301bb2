-- Append a batch of alerts atomically: XADD each to the stream, add its ID
-- to the secondary indexes, bump the per-minute counters, then trim the
-- stream to its retention (cheap: usually one entry).
--
-- KEYS[1]  stream
-- ARGV[1]  key prefix ("<prefix>{saker}:"), for index and counter keys
-- ARGV[2]  max events (0 = no count limit)
-- ARGV[3]  max age in ms (0 = no age limit)
-- ARGV[4]  counter TTL in seconds
-- ARGV[5]  dedupe window in ms (0 = off)
-- ARGV[6]  number of alerts, then per alert:
--          uuid, entry field ("z": body is zstd-compressed JSON, "a": plain), body, #index keys, index key suffixes..., #counter fields, fields...
--
-- An alert whose uuid was appended within the dedupe window is not stored
-- again: its first ID is returned. A sender retrying after a timeout (or a
-- 503 while Redis was frozen but still executed the write) so stores the
-- alert once. uuids live in hashes "u:<bucket>" of window-long buckets; the
-- current and the previous bucket are checked.
--
-- Index and counter keys are built here because the counters' minute comes
-- from the stream ID Redis assigns; they share the {saker} hash tag with the
-- stream, so on a cluster they live in the same slot.
local stream = KEYS[1]
local pfx = ARGV[1]
local maxlen = tonumber(ARGV[2])
local maxage = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local ukey, uprev
if window > 0 then
  local t = redis.call("TIME")
  local bucket = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / window)
  ukey = pfx .. "u:" .. string.format("%d", bucket)
  uprev = pfx .. "u:" .. string.format("%d", bucket - 1)
end

local function pad(id)
  local ms, seq = string.match(id, "^(%d+)-(%d+)$")
  return string.rep("0", 15 - #ms) .. ms .. "-" .. string.rep("0", 12 - #seq) .. seq
end

local i = 7
local ids = {}
local members = {} -- index key -> {score, member, score, member, ...}
local counts = {}  -- counter key -> field -> n
local fresh = false
for a = 1, n do
  local uuid = ARGV[i]
  local field = ARGV[i + 1]
  local body = ARGV[i + 2]
  i = i + 3
  local id = false
  if ukey and uuid ~= "" then
    id = redis.call("HGET", ukey, uuid) or redis.call("HGET", uprev, uuid)
  end
  if id then
    -- Already stored: skip this alert's index keys and counter fields.
    ids[a] = id
    i = i + 1 + tonumber(ARGV[i])
    i = i + 1 + tonumber(ARGV[i])
  else
    fresh = true
    id = redis.call("XADD", stream, "*", field, body)
    ids[a] = id
    if ukey and uuid ~= "" then
      redis.call("HSET", ukey, uuid, id)
    end
    local member = pad(id)
    local k = tonumber(ARGV[i])
    i = i + 1
    for _ = 1, k do
      local key = pfx .. "i:" .. ARGV[i]
      i = i + 1
      local m = members[key]
      if not m then
        m = {}
        members[key] = m
      end
      m[#m + 1] = 0
      m[#m + 1] = member
    end
    local ms = string.match(id, "^(%d+)-")
    local ckey = pfx .. "m:" .. string.format("%d", math.floor(tonumber(ms) / 60000))
    local cm = counts[ckey]
    if not cm then
      cm = {}
      counts[ckey] = cm
    end
    local c = tonumber(ARGV[i])
    i = i + 1
    for _ = 1, c do
      local f = ARGV[i]
      cm[f] = (cm[f] or 0) + 1
      i = i + 1
    end
  end
end
if ukey and fresh then
  redis.call("PEXPIRE", ukey, 2 * window + 1000)
end
if not fresh then
  return ids
end
-- One ZADD per index key and one HINCRBY per counter field, not per alert.
for key, m in pairs(members) do
  for from = 1, #m, 1000 do
    redis.call("ZADD", key, unpack(m, from, math.min(from + 999, #m)))
  end
end
for ckey, cm in pairs(counts) do
  for f, v in pairs(cm) do
    redis.call("HINCRBY", ckey, f, v)
  end
  redis.call("EXPIRE", ckey, ttl)
end
if maxlen > 0 then
  redis.call("XTRIM", stream, "MAXLEN", maxlen)
end
if maxage > 0 then
  local t = redis.call("TIME")
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call("XTRIM", stream, "MINID", string.format("%d", now - maxage))
end
-- Index entries of trimmed events are removed in the background (see
-- retention.go): reads skip them meanwhile.
return ids
