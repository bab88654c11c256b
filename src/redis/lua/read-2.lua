#!lua flags=no-writes
--[[
  read: the merged state of every family of a registry, packed for cheap parsing.
  Its typed argument builder is readArgs in src/redis/scripts.ts.

  KEYS[1]  meta key      hash: family name -> "<shape>\n<json>"; the shape starts "v<n>|<kind>|"
  KEYS[2]  gauge index set (every index ever claimed; read unless ARGV[4] gives the live ones)

  Keys built here from the prefixes below (family hashes, expiry zsets, gauge hashes, leases,
  quantile slot keys, creation-time hashes) cannot be declared: which ones exist depends on the
  meta hash, the gauge index set and the server's clock, all read inside the script. They start
  with the registry's hash tag, as KEYS do (src/redis/keys.ts), so Redis Cluster keeps them in
  the KEYS' slot.

  ARGV[1]  family key prefix   (family hash = prefix .. name)
  ARGV[2]  gauge key prefix    (gauge hash  = prefix .. name .. ":" .. index)
  ARGV[3]  lease key prefix    (lease       = prefix .. index)
  ARGV[4]  "" to take the live gauge indexes from KEYS[2] and the leases; or "=" and the live
           gauge indexes, comma-separated, when the caller read them (a family group of
           shardBy "metric": the leases are elsewhere)
  ARGV[5]  expiry zset prefix  (expiry zset = prefix .. name)
  ARGV[6]  fields per chunk
  ARGV[7]  quantile window key prefix (slot key = prefix .. name .. ":" .. slot)
  ARGV[8]  creation-time hash prefix (hash = prefix .. name), or "" to skip creation times
           (they are only exported in OpenMetrics)
  ARGV[9..] family names to read; none means every family in the meta hash

  Returns a flat list: name, encoded metadata, data, name, encoded metadata, data, ...
  data is a list of chunks, each "field\nvalue\nfield\nvalue..." (fields never hold a raw
  line feed: they are escaped exposition label sets). For per-process gauges data is a list of
  index, chunk, index, chunk, ... over live indexes only (a live lease). Expired common-gauge
  series are skipped. A family whose keys cannot be read (e.g. a key of the wrong type) gets
  data { "\0" .. error message } instead, so one bad family never fails the whole scrape.
  A summary with quantiles also gets its window's sketch buckets, summed over the slots inside
  the window (include/window.lua: the current slot by the server's clock and the ageBuckets - 1
  before it), as "field|bucket\ncount" pairs in further chunks of its data. With ARGV[8] set,
  counters, histograms and summaries also get "labelkey|created\nseconds" pairs in further
  chunks (a label key is empty or ends with '"', so "...|created" can never be a series of its
  own). A family stored with shardBy "metric" ("|shard=metric" in its shape) keeps its data in
  a group of its own: read through the registry's meta key (ARGV[4] ""), it is returned with
  empty data, for the caller to read from that group (ARGV[4] "=...").
  Reads only: nothing is deleted while reading.
]]
local metaKey, gidxKey = KEYS[1], KEYS[2]
local familyPrefix, gaugePrefix, leasePrefix, liveArg, expiryPrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local chunkSize = tonumber(ARGV[6])
local quantilePrefix = ARGV[7]
local createdPrefix = ARGV[8]

--@include clock
--@include window

local function pack(flat, skip, out)
  local chunk, n = {}, 0
  for i = 1, #flat, 2 do
    local field = flat[i]
    if not (skip and skip[field]) then
      chunk[n + 1], chunk[n + 2] = field, flat[i + 1]
      n = n + 2
      if n >= chunkSize * 2 then
        out[#out + 1] = table.concat(chunk, '\n', 1, n)
        n = 0
      end
    end
  end
  if n > 0 then out[#out + 1] = table.concat(chunk, '\n', 1, n) end
  return out
end

-- Live indexes given by the caller: this is a family group (shardBy "metric"), read in full.
local liveGiven = string.sub(liveArg, 1, 1) == '='
local live = nil
local function liveIndexes()
  if live then return live end
  live = {}
  if liveGiven then
    for i in string.gmatch(liveArg, '%d+') do live[#live + 1] = i end
    return live
  end
  for _, i in ipairs(redis.call('SMEMBERS', gidxKey)) do
    if redis.call('EXISTS', leasePrefix .. i) == 1 then live[#live + 1] = i end
  end
  table.sort(live, function(a, b) return tonumber(a) < tonumber(b) end)
  return live
end

-- A summary's quantile window: merge the bucket counts of the slots still inside it into data.
-- The window (maxAgeSeconds, ageBuckets) is in the metadata JSON.
local function readWindow(name, encoded, fetch, data)
  -- Only summaries with quantiles have "|quantiles=" in their shape (the first line): others
  -- skip the JSON decode.
  if not string.find(string.match(encoded, '^[^\n]*'), '|quantiles=', 1, true) then return end
  local ok, meta = pcall(cjson.decode, string.match(encoded, '\n(.*)$') or '')
  if not ok or type(meta) ~= 'table' or type(meta.percentiles) ~= 'table' then return end
  local slots = tonumber(meta.ageBuckets)
  local width = windowSlotMs(tonumber(meta.maxAgeSeconds), slots)
  if not width then return end
  local base = quantilePrefix .. name .. ':'
  local slot = math.floor(nowMs / width)
  local sums, order = {}, {}
  for s = slot - slots + 1, slot do
    local flat = fetch('HGETALL', windowSlotKey(base, s))
    for i = 1, #flat, 2 do
      local field, n = flat[i], tonumber(flat[i + 1]) or 0
      local held = sums[field]
      if held then sums[field] = held + n else
        sums[field] = n
        order[#order + 1] = field
      end
    end
  end
  local flat = {}
  for i, field in ipairs(order) do
    flat[2 * i - 1], flat[2 * i] = field, string.format('%.0f', sums[field])
  end
  pack(flat, nil, data)
end

local names = {}
if #ARGV > 8 then
  for i = 9, #ARGV do names[#names + 1] = ARGV[i] end
else
  names = redis.call('HKEYS', metaKey)
end

local result = {}
for _, name in ipairs(names) do
  local encoded = redis.call('HGET', metaKey, name)
  if encoded then
    local kind = string.match(encoded, '^[^|]*|([^|]*)|')
    local data = {}
    local failed = nil
    if not liveGiven and string.find(string.match(encoded, '^[^\n]*'), '|shard=metric', 1, true) then
      kind = 'elsewhere'
    end
    local function fetch(command, key, ...)
      local reply = redis.pcall(command, key, ...)
      if type(reply) == 'table' and reply.err then
        failed = failed or (key .. ': ' .. reply.err)
        return {}
      end
      return reply
    end
    if kind == 'elsewhere' then
      -- Read from the family's own group by the caller.
    elseif kind == 'gauge' then
      for _, i in ipairs(liveIndexes()) do
        local chunks = pack(fetch('HGETALL', gaugePrefix .. name .. ':' .. i), nil, {})
        for _, c in ipairs(chunks) do
          data[#data + 1] = i
          data[#data + 1] = c
        end
      end
    else
      local skip = nil
      if kind == 'common_gauge' then
        local expired = fetch('ZRANGEBYSCORE', expiryPrefix .. name, '-inf', nowMs)
        if #expired > 0 then
          skip = {}
          for _, f in ipairs(expired) do skip[f] = true end
        end
      end
      pack(fetch('HGETALL', familyPrefix .. name), skip, data)
      if kind == 'summary' then readWindow(name, encoded, fetch, data) end
      if createdPrefix ~= '' and (kind == 'counter' or kind == 'histogram' or kind == 'summary') then
        local flat = fetch('HGETALL', createdPrefix .. name)
        for i = 1, #flat, 2 do flat[i] = flat[i] .. '|created' end
        pack(flat, nil, data)
      end
    end
    if failed then data = { '\0' .. failed } end
    result[#result + 1] = name
    result[#result + 1] = encoded
    result[#result + 1] = data
  end
end
return result
