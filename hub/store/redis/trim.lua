-- Remove the oldest events of the stream with their index entries and
-- counts, atomically (the background retention pass; see retention.go).
--
-- KEYS[1]  stream
-- ARGV[1]  key prefix ("<prefix>{<tag>}:")
-- ARGV[2]  ID of the first event removed: the stream's first entry, else
--          another pass already removed them and nothing is done
-- ARGV[3]  MINID: entries with a smaller ID are removed
-- ARGV[4]  number of index keys, then per key: suffix, #members, members...
-- then     number of counter keys, then per key: minute, #fields, (field, n)...
--
-- Returns the number of stream entries removed, or -1 when the stream no
-- longer starts at ARGV[2].
local stream = KEYS[1]
local pfx = ARGV[1]
local first = redis.call("XRANGE", stream, "-", "+", "COUNT", 1)
if #first == 0 or first[1][1] ~= ARGV[2] then
  return -1
end
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local key = pfx .. "x:" .. ARGV[i]
  local k = tonumber(ARGV[i + 1])
  i = i + 2
  for from = i, i + k - 1, 1000 do
    redis.call("ZREM", key, unpack(ARGV, from, math.min(from + 999, i + k - 1)))
  end
  i = i + k
end
local nc = tonumber(ARGV[i])
i = i + 1
for _ = 1, nc do
  local key = pfx .. "m:" .. ARGV[i]
  local k = tonumber(ARGV[i + 1])
  i = i + 2
  local exists = redis.call("EXISTS", key) == 1
  for _ = 1, k do
    if exists and redis.call("HINCRBY", key, ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then
      redis.call("HDEL", key, ARGV[i])
    end
    i = i + 2
  end
end
return redis.call("XTRIM", stream, "MINID", ARGV[3])
