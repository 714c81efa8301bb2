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
-- ARGV[5]  number of shapes, then per shape (what alerts of one rule,
--          priority, host, … share): #index key suffixes, suffixes...,
--          rule, #rule set suffixes, suffixes... (sets that must hold the
--          rule: its source's and its tags'), #counter fields, fields...
-- then     number of alerts, then per alert: uuid, entry field ("n": body
--          is S2-compressed JSON, "b": plain; codec.go), body, event time
--          in unix ms (0 = none), shape (1-based)
--
-- Shapes keep the per-alert arguments and work to five values: a batch of
-- one rule's alerts names its index keys, sets and counters once.
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
local floor, pack, find, sub = math.floor, struct.pack, string.find, string.sub

local shapes = {}
local i = 6
for s = 1, tonumber(ARGV[5]) do
  local idx, sets, fields = {}, {}, {}
  for j = 1, tonumber(ARGV[i]) do
    idx[j] = pfx .. "x:" .. ARGV[i + j]
  end
  i = i + 1 + #idx
  local rule = ARGV[i]
  for j = 1, tonumber(ARGV[i + 1]) do
    sets[j] = pfx .. ARGV[i + 1 + j]
  end
  i = i + 2 + #sets
  for j = 1, tonumber(ARGV[i]) do
    fields[j] = ARGV[i + j]
  end
  i = i + 1 + #fields
  shapes[s] = {idx = idx, rule = rule, sets = sets, fields = fields}
end
local n = tonumber(ARGV[i])
local first = i + 1 -- alert a's arguments start at first + 5 * (a - 1)

-- uuids to check and remember: the ones a sender may send again ("" for
-- a uuid the hub made up, which no retry can carry).
local uuids = {[0] = ""}
for a = 1, n do
  local uuid = ARGV[first + 5 * (a - 1)]
  if uuid ~= "" then
    uuids[#uuids + 1] = uuid
  end
end

local ukey, uprev
if window > 0 and #uuids > 0 then
  local t = redis.call("TIME")
  local bucket = floor((tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)) / window)
  ukey = pfx .. "u:" .. string.format("%d", bucket)
  uprev = pfx .. "u:" .. string.format("%d", bucket - 1)
end

-- Which uuids were stored before (one HMGET per dedupe bucket for the
-- whole batch). The current bucket's HMGET also asks for its marker field
-- "" (no uuid is empty here): a bucket without it is new and gets its
-- expiry with its first uuids, so later appends to it need no PEXPIRE.
local known = {}
local newbucket = false
if ukey then
  -- hmget calls fn(k, value) for uuids[lo..], 1000 fields per HMGET.
  local function hmget(key, lo, fn)
    for from = lo, #uuids, 1000 do
      local last = math.min(from + 999, #uuids)
      local got = redis.call("HMGET", key, unpack(uuids, from, last))
      for k = from, last do
        fn(k, got[k - from + 1])
      end
    end
  end
  local function note(k, id)
    if id then
      known[uuids[k]] = id
    end
  end
  hmget(uprev, 1, note)
  hmget(ukey, 0, function(k, id)
    if k == 0 then
      newbucket = not id
    else
      note(k, id)
    end
  end)
end

local ids = {}
local members = {} -- index key -> {score, member, score, member, ...}
local counts = {}  -- minute -> field -> n
local used = {}    -- shapes of stored alerts
local remember = {} -- uuid, id, ... for the dedupe bucket
local fresh = false
local arrived = 0 -- arrival ms of the last stored alert
for a = 1, n do
  local j = first + 5 * (a - 1)
  local uuid = ARGV[j]
  local id = ukey and uuid ~= "" and known[uuid]
  if id then
    -- Stored before, or earlier in this batch.
    ids[a] = id
  else
    fresh = true
    id = redis.call("XADD", stream, "*", ARGV[j + 1], ARGV[j + 2])
    ids[a] = id
    if ukey and uuid ~= "" then
      known[uuid] = id
      remember[#remember + 1] = uuid
      remember[#remember + 1] = id
    end
    local dash = find(id, "-", 1, true)
    local ms, seq = tonumber(sub(id, 1, dash - 1)), tonumber(sub(id, dash + 1))
    arrived = ms
    local evms = tonumber(ARGV[j + 3])
    if evms <= 0 or evms > ms + skew then
      evms = ms
    end
    local member = pack(">I6I6I4", evms, ms, seq)
    local shape = shapes[tonumber(ARGV[j + 4])]
    used[shape] = true
    for _, key in ipairs(shape.idx) do
      local m = members[key]
      if not m then
        m = {n = 0}
        members[key] = m
      end
      m[m.n + 1] = "0" -- a string: Redis would format a number
      m[m.n + 2] = member
      m.n = m.n + 2
    end
    local minute = floor(evms / 60000)
    local cm = counts[minute]
    if not cm then
      cm = {}
      counts[minute] = cm
    end
    for _, f in ipairs(shape.fields) do
      cm[f] = (cm[f] or 0) + 1
    end
  end
end
if #remember > 0 then
  if newbucket then
    remember[#remember + 1] = ""
    remember[#remember + 1] = "1"
  end
  for from = 1, #remember, 1000 do
    redis.call("HSET", ukey, unpack(remember, from, math.min(from + 999, #remember)))
  end
  if newbucket then
    -- Set once, at the bucket's first write: it outlives the bucket by a
    -- window, while it is the previous bucket.
    redis.call("PEXPIRE", ukey, 2 * window + 1000)
  end
end
if not fresh then
  return ids
end
-- One ZADD per index key and one HINCRBY per counter field, not per alert.
for key, m in pairs(members) do
  for from = 1, m.n, 1000 do
    redis.call("ZADD", key, unpack(m, from, math.min(from + 999, m.n)))
  end
end
local sets = {} -- rule set key -> {rule, ...}
for shape in pairs(used) do
  for _, key in ipairs(shape.sets) do
    local r = sets[key]
    if not r then
      r = {}
      sets[key] = r
    end
    r[shape.rule] = true
  end
end
for key, r in pairs(sets) do
  local rules = {}
  for rule in pairs(r) do
    rules[#rules + 1] = rule
  end
  redis.call("SADD", key, unpack(rules))
end
-- A counter key gets its expiry when one of its fields is created (so when
-- the key is) and on every write to a minute more than 10 minutes before
-- the arrival (late alerts); writes to a recent minute's existing fields
-- skip it. The key was created at most MaxSkew before its minute, so a TTL
-- (at least 8 days, counterTTL) counted from then outlasts the retention
-- of an alert arriving up to 10 minutes after the minute.
local recent = floor(arrived / 60000) - 10
for minute, cm in pairs(counts) do
  local ckey = pfx .. "m:" .. string.format("%d", minute)
  local expire = minute < recent
  for f, v in pairs(cm) do
    if redis.call("HINCRBY", ckey, f, v) == v then
      expire = true
    end
  end
  if expire then
    redis.call("EXPIRE", ckey, ttl)
  end
end
return ids
