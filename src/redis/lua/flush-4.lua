#!lua
--[[
  flush: apply one batch of metric deltas from one process, exactly once, in one call.

  KEYS[1]  process key   hash: seq (last applied batch), idx (gauge index), t (last flush, ms)
  KEYS[2]  meta key      hash: family name -> "<shape>\n<json>"
  KEYS[3]  gauge index set (every index ever claimed)
  KEYS[4]  sample names hash: sample name -> family that produces it (cross-process clashes)

  ARGV[1]  process id
  ARGV[2]  batch sequence number (strictly increasing per process; a retry reuses it)
  ARGV[3]  process key TTL, seconds (the dedup window: see tokenTtlSeconds)
  ARGV[4]  gauge index: "1" when the process has per-process gauges and needs a gauge index
           (claimed and leased here), "0" when it has none; "=<i>" to use index i, whose lease
           the caller holds in another group (shardBy "metric": leases live in the control
           group), "=<i>!" likewise when i was just (re)claimed: the gauge hashes of ARGV[10]
           are emptied first. With "=<i>", freshIndex is "1" when a gauge hash was missing
  ARGV[5]  gauge lease TTL, seconds (expireSeconds)
  ARGV[6]  family key prefix      (family hash = prefix .. name)
  ARGV[7]  gauge key prefix       (gauge hash  = prefix .. name .. ":" .. index)
  ARGV[8]  lease key prefix       (lease       = prefix .. index)
  ARGV[9]  expiry zset prefix     (expiry zset = prefix .. name)
  ARGV[10] names of this process's per-process gauge families, "\n"-separated (kept alive)
  ARGV[11] number of metadata entries M, then M triples: name, encoded metadata, the family's
           sample names ("\n"-separated; claimed when the family is first stored)
  then sections of 4 arguments: op, family name, expireSeconds or "", payload
    A  HINCRBYFLOAT   payload: field \n delta \n ...
    I  HINCRBY of whole deltas, falling back to HINCRBYFLOAT for a field that holds a fraction
       (or would overflow 64 bits); payload as A
    S  HSET           payload: field \n value \n ...
    H  histogram/summary records: field \n sum \n sub:n,sub:n \n ...
         -> HINCRBYFLOAT field|s sum ; HINCRBY field|sub n
    G  per-process gauge HSET into this process's gauge hash; payload as S
    T  per-process gauge values with their write time (gauges with aggregate "last"; the reader
         picks the newest over the live processes): field \n value \n age µs \n ...
         -> as G, and HSET field|t = server time in µs - age
    E  histogram exemplars: field|e<slot> \n age µs \n "<value> <labels>" \n ...
         -> HSET field|e<slot> "<server time µs - age> <value> <labels>" unless the stored
            exemplar of that bucket is newer (the most recent one across processes wins)
    Q  summary quantile-sketch buckets: field \n bucket:n,bucket:n \n ... where bucket is a
         signed index "<i>" (positive values), "n<i>" (negative values) or "z" (zero).
         The 3rd argument is the family's window, "<slot ms> <ageBuckets> <key base>": slot =
         floor(server time ms / slot ms) -> HINCRBY <key base><slot> field|bucket n, and the
         slot key expires ageBuckets + 1 slot lengths after its slot began (so after the last
         read that can include it: readers merge the current slot and the ageBuckets - 1 before)
    R  HDEL every bucket of the given series from the window's slot keys; payload: field \n ...
         (3rd argument as for Q)
    W  DEL every slot key of the window (3rd argument as for Q)
    D  HDEL fields of the family hash (and ZREM them from its expiry zset when the 3rd argument
         is set); payload: field \n ... — every field of each removed series
    C  series created (fresh) in this process since its last flush, counters, histograms and
         summaries only; 3rd argument: the family's creation-time hash; payload: label key \n ...
         -> set field <label key> to the server time (seconds, millisecond decimals) unless
         present, so the earliest creation across processes is kept. Sent after the family's
         X/D/Z/K sections of the same batch, so a series removed and re-created gets a new time.
    K  HDEL label keys from the creation-time hash (3rd argument); payload: label key \n ...
    Z  DEL the creation-time hash (3rd argument)
    d  HDEL fields of this process's gauge hash; payload as D
    X  DEL the family hash and its expiry zset
    x  DEL this process's gauge hash of the family

  The token check (seq) and every write happen in this one script, so a retried batch whose
  reply was lost is recognised and not applied twice. The sequence is recorded before the
  writes: a write error part-way (Redis does not roll back) can lose part of a batch, never
  double it; such errors are counted and returned. Families whose stored shape differs from
  the one sent are not written.

  Returns { status, gaugeIndex, freshIndex, conflicts, errorCount, firstError } where status is
  "OK" (applied now), "DUP" (applied by an earlier attempt) or "MOVING" (a key of the batch is
  not on this Redis Cluster node: nothing was applied; firstError names it), gaugeIndex is "-1" without gauges,
  freshIndex is "1" when the index was (re)claimed and the caller must rewrite all its gauges,
  conflicts is a flat list of name, stored shape.
]]
local proc, metaKey, gidxKey, samplesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local pid, seq, procTtl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local needsIndex, leaseTtl = ARGV[4], ARGV[5]
local familyPrefix, gaugePrefix, leasePrefix, expiryPrefix = ARGV[6], ARGV[7], ARGV[8], ARGV[9]

local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

local gaugeFamilies = {}
for name in string.gmatch(ARGV[10], '[^\n]+') do gaugeFamilies[#gaugeFamilies + 1] = name end

-- A summary's quantile window (ops Q, R, W): its key base, slot length, slot count, the current
-- slot by the server's clock, and the slot key for slot s. Keys of slots older than
-- current - ageBuckets have expired.
local function windowOf(config)
  local width, slots, base = string.match(config, '^(%d+) (%d+) (.*)$')
  width, slots = tonumber(width), tonumber(slots)
  return base, width, slots, math.floor(nowMs / width)
end
local function slotKey(base, slot) return base .. string.format('%.0f', slot) end

-- Redis Cluster resharding: some keys of this slot may already live on another node (declared
-- keys are checked by Redis before the script runs; the others are not). Touch every family key
-- the batch writes before writing anything: if one is not local, stop here with nothing applied
-- and the sequence number unused, and let the client retry the same batch later.
do
  local heldIdx = string.match(needsIndex, '^=(%d+)') or redis.call('HGET', proc, 'idx')
  local problem = nil
  local function probe(key)
    if problem then return end
    local reply = redis.pcall('EXISTS', key)
    if type(reply) == 'table' and reply.err then problem = key .. ': ' .. reply.err end
  end
  local p = 12 + 3 * tonumber(ARGV[11])
  while p <= #ARGV do
    probe(familyPrefix .. ARGV[p + 1])
    probe(expiryPrefix .. ARGV[p + 1])
    local op = ARGV[p]
    if op == 'C' or op == 'K' or op == 'Z' then probe(ARGV[p + 2]) end
    if op == 'Q' or op == 'R' or op == 'W' then
      local base, _, slots, slot = windowOf(ARGV[p + 2])
      for s = (op == 'Q' and slot or slot - slots), slot do probe(slotKey(base, s)) end
    end
    p = p + 4
  end
  if heldIdx then
    for _, name in ipairs(gaugeFamilies) do probe(gaugePrefix .. name .. ':' .. heldIdx) end
    probe(leasePrefix .. heldIdx)
  end
  if problem then return { 'MOVING', '-1', '0', {}, '0', problem } end
end

-- Gauge index: keep the lease we hold, retake it if it lapsed and is free, else claim the smallest free one.
local idx, fresh = -1, 0
local given = string.match(needsIndex, '^=(%d+)')
if given then
  idx = tonumber(given)
  local reset = string.sub(needsIndex, -1) == '!'
  for _, name in ipairs(gaugeFamilies) do
    local key = gaugePrefix .. name .. ':' .. idx
    if reset then
      redis.call('DEL', key)
    elseif redis.call('EXPIRE', key, leaseTtl) == 0 then
      -- Gone while the lease lived (a restarted or failed-over node): the caller rewrites it all.
      fresh = 1
    end
  end
elseif needsIndex == '1' then
  local held = redis.call('HGET', proc, 'idx')
  if held then
    local owner = redis.call('GET', leasePrefix .. held)
    if owner == pid then
      redis.call('EXPIRE', leasePrefix .. held, leaseTtl)
      idx = tonumber(held)
    elseif not owner then
      redis.call('SET', leasePrefix .. held, pid, 'EX', leaseTtl)
      idx, fresh = tonumber(held), 1
    end
  end
  if idx < 0 then
    local i = 0
    while not redis.call('SET', leasePrefix .. i, pid, 'NX', 'EX', leaseTtl) do i = i + 1 end
    idx, fresh = i, 1
    redis.call('SADD', gidxKey, i)
  end
  redis.call('HSET', proc, 'idx', idx)
  for _, name in ipairs(gaugeFamilies) do
    local key = gaugePrefix .. name .. ':' .. idx
    -- A (re)claimed index may hold a dead process's values: start clean.
    if fresh == 1 then redis.call('DEL', key) else redis.call('EXPIRE', key, leaseTtl) end
  end
end

local last = tonumber(redis.call('HGET', proc, 'seq') or '0')
if seq <= last then
  redis.call('EXPIRE', proc, procTtl)
  return { 'DUP', tostring(idx), tostring(fresh), {}, '0', '' }
end
redis.call('HSET', proc, 'seq', ARGV[2], 't', nowMs)
redis.call('EXPIRE', proc, procTtl)

local errors, firstError = 0, ''
local function check(reply)
  if type(reply) == 'table' and reply.err then
    errors = errors + 1
    if firstError == '' then firstError = reply.err end
  end
end

-- Every write after the sequence number is recorded goes through pcall: an error (a key of the
-- wrong type under the prefix, say) is counted and reported, and the rest of the batch still
-- applies, instead of aborting the script half-way with the batch already marked as applied.
local function write(...)
  check(redis.pcall(...))
end

local skip, conflicts = {}, {}
local pos = 12
for _ = 1, tonumber(ARGV[11]) do
  local name, encoded, samples = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
  pos = pos + 3
  local stored = redis.call('HGET', metaKey, name)
  if not stored then
    -- A new family may not produce a series name another family already produces (x vs x_count).
    local clash = nil
    for sample in string.gmatch(samples, '[^\n]+') do
      local owner = redis.call('HGET', samplesKey, sample)
      if owner and owner ~= name then
        clash = 'family "' .. owner .. '", which already exposes ' .. sample
        break
      end
    end
    if clash then
      skip[name] = true
      conflicts[#conflicts + 1] = name
      conflicts[#conflicts + 1] = clash
    else
      write('HSET', metaKey, name, encoded)
      for sample in string.gmatch(samples, '[^\n]+') do write('HSET', samplesKey, sample, name) end
    end
  elseif stored ~= encoded then
    local storedShape = string.match(stored, '^[^\n]*')
    if storedShape == string.match(encoded, '^[^\n]*') then
      write('HSET', metaKey, name, encoded)
    else
      skip[name] = true
      conflicts[#conflicts + 1] = name
      conflicts[#conflicts + 1] = storedShape
    end
  end
end

local function hsetPairs(key, payload)
  local args, n = {}, 0
  for field, value in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
    args[n + 1], args[n + 2] = field, value
    n = n + 2
    if n >= 1000 then
      check(redis.pcall('HSET', key, unpack(args, 1, n)))
      n = 0
    end
  end
  if n > 0 then check(redis.pcall('HSET', key, unpack(args, 1, n))) end
end

local function removeFields(command, key, payload)
  local args, n = {}, 0
  for field in string.gmatch(payload, '([^\n]*)\n') do
    n = n + 1
    args[n] = field
    if n >= 1000 then
      write(command, key, unpack(args, 1, n))
      n = 0
    end
  end
  if n > 0 then write(command, key, unpack(args, 1, n)) end
end

-- A common-gauge series past its expiry is gone for readers; an increment must start it from
-- zero, not from the stale value still stored (pruning is bounded per flush).
local function dropIfExpired(name, key, field)
  local at = redis.pcall('ZSCORE', expiryPrefix .. name, field)
  if type(at) == 'string' and tonumber(at) <= nowMs then
    write('HDEL', key, field)
    write('ZREM', expiryPrefix .. name, field)
  end
end

local function touchExpiry(name, seconds, payload, recordsPerField)
  local xkey = expiryPrefix .. name
  local at = nowMs + tonumber(seconds) * 1000
  local i = 0
  for line in string.gmatch(payload, '([^\n]*)\n') do
    if i % recordsPerField == 0 then write('ZADD', xkey, at, line) end
    i = i + 1
  end
  -- Prune series that expired (at most 1000 per flush; readers skip the rest).
  local expired = redis.pcall('ZRANGEBYSCORE', xkey, '-inf', nowMs, 'LIMIT', 0, 1000)
  if type(expired) == 'table' and expired.err then
    check(expired)
  elseif #expired > 0 then
    write('HDEL', familyPrefix .. name, unpack(expired))
    write('ZREM', xkey, unpack(expired))
  end
end

while pos <= #ARGV do
  local op, name, expire, payload = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2], ARGV[pos + 3]
  pos = pos + 4
  if not skip[name] then
    local key = familyPrefix .. name
    if op == 'A' then
      for field, delta in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
        if expire ~= '' then dropIfExpired(name, key, field) end
        check(redis.pcall('HINCRBYFLOAT', key, field, delta))
      end
    elseif op == 'I' then
      for field, delta in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
        if expire ~= '' then dropIfExpired(name, key, field) end
        local reply = redis.pcall('HINCRBY', key, field, delta)
        if type(reply) == 'table' and reply.err then check(redis.pcall('HINCRBYFLOAT', key, field, delta)) end
      end
    elseif op == 'S' then
      hsetPairs(key, payload)
    elseif op == 'H' then
      for field, sum, spec in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n([^\n]*)\n') do
        -- The sum goes first: if Redis refuses it (overflow to inf), the counts are not written
        -- either, so _count and _sum never disagree.
        local reply = redis.pcall('HINCRBYFLOAT', key, field .. '|s', sum)
        check(reply)
        if not (type(reply) == 'table' and reply.err) then
          for sub, n in string.gmatch(spec, '([^,:]+):([^,]+)') do
            check(redis.pcall('HINCRBY', key, field .. '|' .. sub, n))
          end
        end
      end
    elseif op == 'G' or op == 'T' then
      if idx >= 0 then
        local gkey = gaugePrefix .. name .. ':' .. idx
        if op == 'G' then
          hsetPairs(gkey, payload)
        else
          local nowUs = tonumber(now[1]) * 1000000 + tonumber(now[2])
          local records = {}
          for field, value, age in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n([^\n]*)\n') do
            records[#records + 1] = field .. '\n' .. value .. '\n' .. field .. '|t\n'
              .. string.format('%.0f', nowUs - tonumber(age)) .. '\n'
          end
          hsetPairs(gkey, table.concat(records))
        end
        write('EXPIRE', gkey, leaseTtl)
      end
    elseif op == 'E' then
      local nowUs = tonumber(now[1]) * 1000000 + tonumber(now[2])
      for field, age, exemplar in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n([^\n]*)\n') do
        local at = nowUs - tonumber(age)
        local held = redis.pcall('HGET', key, field)
        if type(held) == 'table' and held.err then
          check(held)
        else
          local heldAt = held and tonumber(string.match(held, '^(%d+) '))
          if not heldAt or at >= heldAt then
            check(redis.pcall('HSET', key, field, string.format('%.0f', at) .. ' ' .. exemplar))
          end
        end
      end
    elseif op == 'Q' then
      local base, width, slots, slot = windowOf(expire)
      local qkey = slotKey(base, slot)
      for field, spec in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
        for bucket, n in string.gmatch(spec, '([^,:]+):([^,]+)') do
          check(redis.pcall('HINCRBY', qkey, field .. '|' .. bucket, n))
        end
      end
      local ttlMs = (slot + 1 + slots) * width - nowMs
      check(redis.pcall('EXPIRE', qkey, string.format('%.0f', math.ceil(ttlMs / 1000))))
    elseif op == 'R' then
      local base, _, slots, slot = windowOf(expire)
      local gone = {}
      for field in string.gmatch(payload, '([^\n]*)\n') do gone[field] = true end
      for s = slot - slots, slot do
        local qkey = slotKey(base, s)
        local doomed = {}
        local fields = redis.pcall('HKEYS', qkey)
        if type(fields) == 'table' and fields.err then check(fields) else
          for _, f in ipairs(fields) do
            if gone[string.match(f, '^(.*)|[^|]*$')] then doomed[#doomed + 1] = f end
          end
        end
        if #doomed > 0 then removeFields('HDEL', qkey, table.concat(doomed, '\n') .. '\n') end
      end
    elseif op == 'W' then
      local base, _, slots, slot = windowOf(expire)
      for s = slot - slots, slot do write('DEL', slotKey(base, s)) end
    elseif op == 'C' then
      -- The 3rd argument is the family's creation-time hash (kept apart from the values, so that
      -- text-format scrapes never read it).
      local created = now[1] .. string.format('.%03d', math.floor(tonumber(now[2]) / 1000))
      for field in string.gmatch(payload, '([^\n]*)\n') do
        -- HSETNX in effect, with HGET and HSET: the commands of the README's minimal ACL.
        local held = redis.pcall('HGET', expire, field)
        if type(held) == 'table' and held.err then check(held)
        elseif not held then check(redis.pcall('HSET', expire, field, created)) end
      end
    elseif op == 'K' then
      removeFields('HDEL', expire, payload)
    elseif op == 'Z' then
      write('DEL', expire)
    elseif op == 'D' then
      removeFields('HDEL', key, payload)
      if expire ~= '' then removeFields('ZREM', expiryPrefix .. name, payload) end
    elseif op == 'd' then
      if idx >= 0 then removeFields('HDEL', gaugePrefix .. name .. ':' .. idx, payload) end
    elseif op == 'X' then
      write('DEL', key, expiryPrefix .. name)
    elseif op == 'x' then
      if idx >= 0 then write('DEL', gaugePrefix .. name .. ':' .. idx) end
    end
    if expire ~= '' and (op == 'A' or op == 'I' or op == 'S') then touchExpiry(name, expire, payload, 2) end
  end
end

return { 'OK', tostring(idx), tostring(fresh), conflicts, tostring(errors), firstError }
