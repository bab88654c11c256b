#!lua flags=no-writes
--[[
  page: one bounded page of one hash a scrape reads (a family hash, one process's gauge hash of
  a family, a quantile slot key, a creation-time hash), whole series only.
  Its typed argument builder is pageArgs in src/redis/scripts.ts.

  KEYS[1]  the hash
  KEYS[2]  the family's expiry zset in mode "x" (declared so Redis Cluster checks it); the hash
           again in the other modes, which do not read it

  ARGV[1]  cursor ("0" to start)
  ARGV[2]  COUNT for HSCAN (fields visited per page, about)
  ARGV[3]  mode
    f  every field as stored (counters, plain per-process gauges, quantile slots, creation times)
    x  as f, leaving out fields whose expiry (their score in KEYS[2]) has passed (common gauges
       with expireSeconds)
    t  per-process gauges with aggregate "last": each label key with its "|t" write time, read
       together here (a "|t" field seen alone in the page is left to its label key's page)
    g  histograms and summaries: HSCAN with MATCH "*|s" visits about COUNT fields and returns
       only the series' sum fields; for each, every field of ARGV[4..] suffixes is read
       together here by HMGET: a series' buckets, sum and count (and, when asked for, its
       exemplars) always come from one call, never from two pages read at different moments.
       (Returning every visited field made Redis convert them all for Lua only to skip most:
       3x the Redis time of the plain scan.)
  ARGV[4..] (mode g) the suffixes of a series' fields, "s" first (a sum field is "<key>|s":
       no other suffix is "s", and a label key ends with '"', so "*|s" matches sums only)

  HSCAN returns every field present for the whole scan at least once, and may return one twice
  (when the hash shrinks meanwhile): the caller keeps the first copy of a series.

  Returns { next cursor ("0": done), "field\nvalue\nfield\nvalue...", node }, or
  { "0", "\0<error>", node } when the key cannot be read (a key of the wrong type); any other
  error is raised. node is the server's run_id: a cursor is only good on the node that gave it,
  so a scan whose pages come from two nodes (a Redis Cluster slot moved meanwhile) is incomplete
  and the caller fails it.
]]
local key, zset = KEYS[1], KEYS[2]

--@include clock

local cursor, count, mode = ARGV[1], ARGV[2], ARGV[3]
local node = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''

-- A key of the wrong type is the caller's to report (the family is left out); anything else
-- fails the call.
local function unreadable(where, reply)
  if string.find(reply.err, 'WRONGTYPE', 1, true) then return { '0', '\0' .. where .. ': ' .. reply.err, node } end
  return redis.error_reply(reply.err)
end

local page
if mode == 'g' then
  page = redis.pcall('HSCAN', key, cursor, 'MATCH', '*|s', 'COUNT', count)
else
  page = redis.pcall('HSCAN', key, cursor, 'COUNT', count)
end
if type(page) == 'table' and page.err then return unreadable(key, page) end
local flat = page[2]
local out, n = {}, 0
local function emit(field, value)
  out[n + 1], out[n + 2] = field, value
  n = n + 2
end

if mode == 'f' then
  return { page[1], table.concat(flat, '\n'), node }
elseif mode == 'x' then
  for i = 1, #flat, 2 do
    local at = redis.pcall('ZSCORE', zset, flat[i])
    if type(at) == 'table' and at.err then return unreadable(zset, at) end
    if not at or tonumber(at) > nowMs then emit(flat[i], flat[i + 1]) end
  end
elseif mode == 't' then
  for i = 1, #flat, 2 do
    local field = flat[i]
    -- A label key is empty or ends with '"' (src/redis/fields.ts): the series' own field.
    if field == '' or string.sub(field, -1) == '"' then
      emit(field, flat[i + 1])
      local at = redis.call('HGET', key, field .. '|t')
      if at then emit(field .. '|t', at) end
    end
  end
elseif mode == 'g' then
  local suffixes = {}
  for i = 4, #ARGV do suffixes[#suffixes + 1] = ARGV[i] end
  local fields = {}
  for i = 1, #flat, 2 do
    local base = string.sub(flat[i], 1, -2)
    for j, suffix in ipairs(suffixes) do fields[j] = base .. suffix end
    local values = redis.call('HMGET', key, unpack(fields, 1, #suffixes))
    for j = 1, #suffixes do
      if values[j] then emit(fields[j], values[j]) end
    end
  end
end
return { page[1], table.concat(out, '\n', 1, n), node }
