#!lua flags=no-writes
--[[
  read: the merged state of every family of a registry, packed for cheap parsing.

  KEYS[1]  meta key      hash: family name -> "<shape>\n<json>"; the shape starts "v<n>|<kind>|"

  ARGV[1]  family key prefix   (family hash = prefix .. name)
  ARGV[2]  gauge key prefix    (gauge hash  = prefix .. name .. ":" .. index)
  ARGV[3]  lease key prefix    (lease       = prefix .. index)
  ARGV[4]  gauge index set key
  ARGV[5]  expiry zset prefix  (expiry zset = prefix .. name)
  ARGV[6]  fields per chunk
  ARGV[7..] family names to read; none means every family in the meta hash

  Returns a flat list: name, encoded metadata, data, name, encoded metadata, data, ...
  data is a list of chunks, each "field\nvalue\nfield\nvalue..." (fields never hold a raw
  line feed: they are escaped exposition label sets). For per-process gauges data is a list of
  index, chunk, index, chunk, ... over live indexes only (a live lease). Expired common-gauge
  series are skipped. A family whose keys cannot be read (e.g. a key of the wrong type) gets
  data { "\0" .. error message } instead, so one bad family never fails the whole scrape.
  Reads only: nothing is deleted while reading.
]]
local metaKey = KEYS[1]
local familyPrefix, gaugePrefix, leasePrefix, gidxKey, expiryPrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local chunkSize = tonumber(ARGV[6])

local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

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

local live = nil
local function liveIndexes()
  if live then return live end
  live = {}
  for _, i in ipairs(redis.call('SMEMBERS', gidxKey)) do
    if redis.call('EXISTS', leasePrefix .. i) == 1 then live[#live + 1] = i end
  end
  table.sort(live, function(a, b) return tonumber(a) < tonumber(b) end)
  return live
end

local names = {}
if #ARGV > 6 then
  for i = 7, #ARGV do names[#names + 1] = ARGV[i] end
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
    local function fetch(command, key, ...)
      local reply = redis.pcall(command, key, ...)
      if type(reply) == 'table' and reply.err then
        failed = failed or (key .. ': ' .. reply.err)
        return {}
      end
      return reply
    end
    if kind == 'gauge' then
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
    end
    if failed then data = { '\0' .. failed } end
    result[#result + 1] = name
    result[#result + 1] = encoded
    result[#result + 1] = data
  end
end
return result
