-- Append a batch of alerts atomically: XADD each to the stream, add it to
-- the secondary indexes and bump the per-minute counters of its event
-- time. Retention is not applied here: the background pass in retention.go
-- trims the stream, the indexes and the counters.
--
-- KEYS[1]  stream
-- ARGV[1]  key prefix ("<prefix>{<tag>}:"), for index and counter keys
-- ARGV[2]  max skew in ms: an event time further ahead of the arrival is
--          replaced by the arrival (store.EventMs)
-- ARGV[3]  counter TTL in seconds
-- ARGV[4]  dedupe window in ms (0 = off)
-- ARGV[5]  number of alerts, then per alert:
--          uuid, entry field ("c": body is S2-compressed JSON, "b": plain;
--          codec.go),
--          body, event time in unix ms (0 = none), #index key suffixes,
--          suffixes..., rule, #rule set suffixes, suffixes... (sets that
--          must hold the rule: its source's and its tags'), #counter
--          fields, fields...
--
-- An alert whose uuid was appended within the dedupe window is not stored
-- again: its first ID is returned. A sender retrying after a timeout (or a
-- 503 while Redis was frozen but still executed the write) so stores the
-- alert once. uuids live in hashes "u:<bucket>" of window-long buckets; the
-- current and the previous bucket are checked.
--
-- Index members are 16 bytes: event ms (6, big-endian), then the stream
-- ID's ms (6) and sequence (4), so the lexical order of a sorted set (all
-- scores 0) is the query order. Index and counter keys are built here
-- because the arrival half comes from the ID Redis assigns; they share the
-- stream's hash tag, so on a cluster they live in its slot.
local stream = KEYS[1]
local pfx = ARGV[1]
local skew = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local ukey, uprev
if window > 0 then
  local t = redis.call("TIME")
  local bucket = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / window)
  ukey = pfx .. "u:" .. string.format("%d", bucket)
  uprev = pfx .. "u:" .. string.format("%d", bucket - 1)
end

local floor, pack = math.floor, struct.pack

-- First pass: where each alert's arguments start, and which uuids were
-- stored before (one HMGET per dedupe bucket for the whole batch).
local starts = {}
local known = {}
local i = 6
local uuids = {}
for a = 1, n do
  starts[a] = i
  if ARGV[i] ~= "" then
    uuids[#uuids + 1] = ARGV[i]
  end
  i = i + 4
  i = i + 1 + tonumber(ARGV[i])
  i = i + 2 + tonumber(ARGV[i + 1])
  i = i + 1 + tonumber(ARGV[i])
end
if ukey and #uuids > 0 then
  for _, key in ipairs({uprev, ukey}) do
    for from = 1, #uuids, 1000 do
      local last = math.min(from + 999, #uuids)
      local got = redis.call("HMGET", key, unpack(uuids, from, last))
      for k = from, last do
        if got[k - from + 1] then
          known[uuids[k]] = got[k - from + 1]
        end
      end
    end
  end
end

local ids = {}
local members = {} -- index key -> {score, member, score, member, ...}
local counts = {}  -- counter key -> field -> n
local sets = {}    -- rule set key -> rule -> true
local remember = {} -- uuid, id, ... for the dedupe bucket
local fresh = false
for a = 1, n do
  i = starts[a]
  local uuid = ARGV[i]
  local field = ARGV[i + 1]
  local body = ARGV[i + 2]
  local evms = tonumber(ARGV[i + 3])
  i = i + 4
  local id = ukey and uuid ~= "" and known[uuid]
  if id then
    -- Stored before, or earlier in this batch.
    ids[a] = id
  else
    fresh = true
    id = redis.call("XADD", stream, "*", field, body)
    ids[a] = id
    if ukey and uuid ~= "" then
      known[uuid] = id
      remember[#remember + 1] = uuid
      remember[#remember + 1] = id
    end
    local ms, seq = string.match(id, "^(%d+)-(%d+)$")
    ms, seq = tonumber(ms), tonumber(seq)
    if evms <= 0 or evms > ms + skew then
      evms = ms
    end
    local member = pack(">I6I6I4", evms, ms, seq)
    local k = tonumber(ARGV[i])
    i = i + 1
    for _ = 1, k do
      local key = pfx .. "x:" .. ARGV[i]
      i = i + 1
      local m = members[key]
      if not m then
        m = {}
        members[key] = m
      end
      m[#m + 1] = 0
      m[#m + 1] = member
    end
    local rule = ARGV[i]
    local nsets = tonumber(ARGV[i + 1])
    i = i + 2
    for _ = 1, nsets do
      local key = pfx .. ARGV[i]
      i = i + 1
      local r = sets[key]
      if not r then
        r = {}
        sets[key] = r
      end
      r[rule] = true
    end
    local ckey = pfx .. "m:" .. string.format("%d", floor(evms / 60000))
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
if #remember > 0 then
  for from = 1, #remember, 1000 do
    redis.call("HSET", ukey, unpack(remember, from, math.min(from + 999, #remember)))
  end
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
for key, r in pairs(sets) do
  local rules = {}
  for rule in pairs(r) do
    rules[#rules + 1] = rule
  end
  redis.call("SADD", key, unpack(rules))
end
for ckey, cm in pairs(counts) do
  for f, v in pairs(cm) do
    redis.call("HINCRBY", ckey, f, v)
  end
  redis.call("EXPIRE", ckey, ttl)
end
return ids
