#!lua
--[[
  flush: apply one batch of metric deltas from one process, exactly once, in one call.
  Its typed argument builder is flushArgs in src/redis/scripts.ts.

  KEYS[1]  process key   hash: seq (last applied batch), idx (gauge index), t (last flush, ms)
  KEYS[2]  meta key      hash: family name -> "<shape>\n<json>"
  KEYS[3]  gauge index set (every index ever claimed)
  KEYS[4]  sample names hash: sample name -> family that produces it (cross-process clashes)

  Keys built here from the prefixes below (family hashes, expiry zsets, gauge hashes, leases,
  quantile slot keys; creation-time hashes come whole as a section argument) cannot be declared:
  which ones a batch touches depends on its families, the gauge index (claimed inside the script)
  and the server's clock (quantile slots). They all start with the registry's hash tag, as KEYS
  do (src/redis/keys.ts), so Redis Cluster keeps them in the KEYS' slot; the probe below stops
  the script (MOVING) if one of them is not on this node while that slot is being moved. The
  lease in particular: with "1" the script picks the index (the caller cannot name its lease);
  with "=<i>" the lease lives in another slot and this script never writes it.

  ARGV[1]  process id
  ARGV[2]  batch sequence number (strictly increasing per process; a retry reuses it)
  ARGV[3]  process key TTL, seconds (the dedup window: see tokenTtlSeconds)
  ARGV[4]  gauge index: "0" when the process has no per-process gauges in this slot; "1" to
           hold one here (claimed and leased here, see include/lease.lua); "=<i>" to use index i,
           whose lease the caller holds in another slot (shardBy "metric": leases live in the
           control group; freshIndex is then "1" when one of the gauge hashes was missing);
           "=<i>!" likewise when i was just (re)claimed: the gauge hashes of ARGV[10] are emptied
           before the batch is written
  ARGV[5]  gauge lease TTL, seconds (expireSeconds)
  ARGV[6]  family key prefix      (family hash = prefix .. name)
  ARGV[7]  gauge key prefix       (gauge hash  = prefix .. name .. ":" .. index)
  ARGV[8]  lease key prefix       (lease       = prefix .. index)
  ARGV[9]  expiry zset prefix     (expiry zset = prefix .. name)
  ARGV[10] names of this process's per-process gauge families, "\n"-separated (kept alive)
  ARGV[11] number of metadata entries M
  ARGV[12] after: "" (an anchor: applied when its seq is new), or the seq of the batch this one
           follows — a chunk of a flush split in several calls — applied only when that batch is
           the last one applied: a chunk never applies before, or without, the one before it;
           or ">=<n>" (an anchor that knows batch n was acknowledged): applied when its seq is
           new and Redis has applied n; when Redis is behind n (a failover to a replica that
           missed acknowledged batches), nothing is applied and the reply is BEHIND
  then M triples: name, encoded metadata, the family's sample names ("\n"-separated; claimed
  when the family is first stored)
  then sections of 4 arguments: op, family name, a third argument named per op, payload.
  The third argument is expireSeconds (A I S N D: the common gauge's expiry, "" for none), window
  ("<slot ms> <ageBuckets> <key base>", Q R W: see include/window.lua), createdKey (the family's
  creation-time hash, C K Z), or unused ("") for the other ops.
    A  HINCRBYFLOAT   payload: field \n delta \n ...
    I  HINCRBY of whole deltas, falling back to HINCRBYFLOAT for a field that holds a fraction
       (or would overflow 64 bits); payload as A
    S  HSET           payload: field \n value \n ...
         (A I S with expireSeconds: the fields' expiry is set to now + expireSeconds, and a field
         already past its expiry restarts from zero; expired ones are pruned, 1000 per flush)
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
         signed index "<i>" (positive values), "n<i>" (negative values) or "z" (zero)
         -> HINCRBY <key base><current slot> field|bucket n; the slot key expires as the window
            rule says
    R  HDEL every bucket of the given series from the window's slot keys; payload: field \n ...
    W  drop (UNLINK, see include/drop.lua) every slot key of the window
    D  HDEL fields of the family hash (and ZREM them from its expiry zset when expireSeconds is
         set); payload: field \n ... — every field of each removed series
    d  as D on this process's gauge hash of the family (which has no expiry zset)
    X  drop the family hash and its expiry zset
    x  drop this process's gauge hash of the family
    C  series created (fresh) in this process since its last flush, counters, histograms and
         summaries only; payload: label key \n ...
         -> HSET createdKey <label key> = server time (seconds, millisecond decimals) unless
         present, so the earliest creation across processes is kept. Sent after the family's
         X/D/Z/K sections of the same batch, so a series removed and re-created gets a new time.
    N  restore common-gauge values this process set last, after Redis lost them (a wipe):
         HSET each field unless it is present (another process wrote it since); with
         expireSeconds its expiry is set as for S; payload as S
    K  HDEL label keys from createdKey; payload: label key \n ...
    Z  drop createdKey

  Order of work, and what a DUP still does. The probe runs first and writes nothing; it answers
  MOVING, or WRONGTYPE for the registry's own keys, at once, and WRONGTYPE for a family's key
  after the DUP and GAP checks below. Then the
  gauge index: with "1" the lease is renewed (or the index (re)claimed: SET lease, SADD to the
  gauge index set, DEL of the (re)claimed index's gauge hashes) and HSET idx; with "=<i>" the
  gauge hashes' EXPIRE is renewed. These run before the sequence check and so also on a DUP: the
  reply must name the process's index, which a live process keeps holding, and a DEL happens
  only on an index just (re)claimed, whose values may be a dead process's — the reply then says
  freshIndex "1", and the caller writes every gauge again. With "=<i>!" the reset runs after the
  check, when the batch is applied. On a DUP it is skipped only when the applied attempt was
  itself "=<i>!" (the process key's idx field records "<i>!" or "<i>" for each applied "=<i>"
  batch): that attempt emptied index i and wrote this batch's gauges into it. Otherwise (the
  applied attempt wrote plain "=<i>" or under another index) a DUP empties index i and answers
  freshIndex "1", so the caller writes every gauge again. Beyond these, a DUP renews the process
  key's TTL only. A GAP (checked after DUP) has done only the gauge-index work, like a DUP.
  The sequence is recorded before the data writes. The errors a write could meet that can be
  foreseen (a key of another type, a slot moving) are checked by the probe first, so the batch
  is refused whole; one that cannot (OOM part-way; Redis does not roll back) can lose part of a
  batch, never double it: such errors are counted and returned (see include/writes.lua). Families whose stored shape differs from the one sent are not written.

  Returns { status, gaugeIndex, freshIndex, conflicts, errorCount, firstError, family, pastRange }
  where status is "OK" (applied now), "DUP" (applied by an earlier attempt), "GAP" (after names a
  batch that is not the last applied: nothing was applied, the sequence number is unused),
  "BEHIND" (an anchor sent ">=<n>" while Redis's last applied batch is older than n: nothing
  was applied, previous names Redis's last), "MOVING" (a key of the batch is not on this Redis
  Cluster node: nothing was applied;
  firstError names it) or "WRONGTYPE" (a key the batch writes holds another type: nothing was
  applied, the sequence number is unused; firstError names the key, family the family it belongs
  to, "" for the registry's own keys), gaugeIndex is "-1" without gauges, freshIndex is "1" when
  the caller must rewrite all its gauges, conflicts is a flat list of name, stored shape (or
  clash), and pastRange a flat list of family, field whose value this batch took past a double's
  range (stored as "Infinity", "-Infinity" or "NaN": include/writes.lua addFloat). An OK or
  BEHIND reply adds previous: the sequence number applied before this batch, "0" when the process key was
  missing (its first batch, or the key lost: a wipe, a restart without persistence).
]]
local proc, metaKey, gidxKey, samplesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local pid, seq, procTtl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local indexArg, leaseTtl = ARGV[4], ARGV[5]
local familyPrefix, gaugePrefix, leasePrefix, expiryPrefix = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local metaCount = tonumber(ARGV[11])
local after = ARGV[12]
local firstMeta = 13
local firstSection = firstMeta + 3 * metaCount

local gaugeFamilies = {}
for name in string.gmatch(ARGV[10], '[^\n]+') do gaugeFamilies[#gaugeFamilies + 1] = name end
local givenIndex = string.match(indexArg, '^=(%d+)')
local resetGiven = givenIndex ~= nil and string.sub(indexArg, -1) == '!'

--@include clock
--@include window
--@include probe
--@include drop

local function gaugeHashOf(name, i) return gaugePrefix .. name .. ':' .. i end

-- The third section argument is a key (C K Z) or a window spec (Q R W) for these ops; the
-- gauge ops write this process's gauge hash of the family.
local keyOps, windowOps = { C = true, K = true, Z = true }, { Q = true, R = true, W = true }
local gaugeOps = { G = true, T = true, d = true, x = true }
-- Ops that write the family hash, and those that write its expiry zset (with an expiry set).
local familyHashOps = { A = true, I = true, S = true, N = true, H = true, E = true, D = true }
local expiryOps = { A = true, I = true, S = true, N = true, D = true }

-- The message of a key of the wrong type ({ key, held type, expected type, family }).
local function wrongTypeText(wrong)
  return 'key ' .. wrong[1] .. ' holds a ' .. wrong[2] .. ', not the ' .. wrong[3] .. ' the library writes there'
end

-- Every key the batch may touch, probed before anything is written (include/probe.lua), with
-- the type its writes need (false: dropped or only kept alive, any type will do). The declared
-- keys first: the process key must be a hash before its gauge index is read.
local wrongType
do
  local probe = { keys = {}, seen = {} }
  probeKey(probe, proc, 'hash', '')
  probeKey(probe, metaKey, 'hash', '')
  probeKey(probe, gidxKey, 'set', '')
  probeKey(probe, samplesKey, 'hash', '')
  local _, wrong = probeKeys(probe)
  if wrong then return { 'WRONGTYPE', '-1', '0', {}, '0', wrongTypeText(wrong), '', {} } end

  probe = { keys = {}, seen = {} }
  local heldIdx = givenIndex or redis.call('HGET', proc, 'idx')
  if heldIdx then probeKey(probe, leasePrefix .. heldIdx, 'string', '') end
  for p = firstSection, #ARGV, 4 do
    local op, name, arg = ARGV[p], ARGV[p + 1], ARGV[p + 2]
    local familyType = familyHashOps[op] and 'hash' or false
    probeKey(probe, familyPrefix .. name, familyType, name)
    probeKey(probe, expiryPrefix .. name, (expiryOps[op] and arg ~= '') and 'zset' or false, name)
    if keyOps[op] then probeKey(probe, arg, op ~= 'Z' and 'hash', name) end
    if windowOps[op] then
      local base, _, slots, slot = windowOf(arg)
      for s = (op == 'Q' and slot or slot - slots), slot do probeKey(probe, windowSlotKey(base, s), op ~= 'W' and 'hash', name) end
    end
    -- (A chunk after the first of a flush lists no gauge families: its gauge sections name them.)
    if gaugeOps[op] and heldIdx then probeKey(probe, gaugeHashOf(name, heldIdx), op ~= 'x' and 'hash', name) end
  end
  if heldIdx then
    for _, name in ipairs(gaugeFamilies) do probeKey(probe, gaugeHashOf(name, heldIdx), false, name) end
  end
  local moved
  moved, wrongType = probeKeys(probe, proc)
  if moved then return { 'MOVING', '-1', '0', {}, '0', moved, '', {} } end
  -- The lease is the registry's own: nothing can be applied. A family's key: see below.
  if wrongType and wrongType[4] == '' then return { 'WRONGTYPE', '-1', '0', {}, '0', wrongTypeText(wrongType), '', {} } end
end

--@include lease

-- The gauge index (before the sequence check: see the header).
local idx, fresh = -1, 0
if givenIndex then
  idx = tonumber(givenIndex)
  if not resetGiven then
    for _, name in ipairs(gaugeFamilies) do
      -- Gone while the lease lived (a restarted or failed-over node): the caller rewrites it all.
      if redis.call('EXPIRE', gaugeHashOf(name, idx), leaseTtl) == 0 then fresh = 1 end
    end
  end
elseif indexArg == '1' then
  idx, fresh = holdGaugeIndex(proc, pid, leasePrefix, leaseTtl, gidxKey)
  for _, name in ipairs(gaugeFamilies) do
    local key = gaugeHashOf(name, idx)
    -- A (re)claimed index may hold a dead process's values: start clean.
    if fresh == 1 then dropKeys(key) else redis.call('EXPIRE', key, leaseTtl) end
  end
end

local function resetGaugeHashes()
  for _, name in ipairs(gaugeFamilies) do dropKeys(gaugeHashOf(name, idx)) end
end

local last = tonumber(redis.call('HGET', proc, 'seq') or '0')
if seq <= last then
  -- Skipped only when the applied attempt reset this very index itself ("<i>!" recorded).
  if resetGiven and redis.call('HGET', proc, 'idx') ~= givenIndex .. '!' then
    resetGaugeHashes()
    fresh = 1
  end
  redis.call('EXPIRE', proc, procTtl)
  return { 'DUP', tostring(idx), tostring(fresh), {}, '0', '', '', {} }
end
local atLeast = tonumber(string.match(after, '^>=(%d+)$'))
if atLeast then
  -- Redis lost batches this process had acknowledged: the caller sends them again first.
  if last < atLeast then return { 'BEHIND', tostring(idx), tostring(fresh), {}, '0', '', '', {}, tostring(last) } end
elseif after ~= '' and tonumber(after) ~= last then
  -- The batch before this one was not applied (refused, or still to be resent): apply nothing,
  -- so that its retry is not mistaken for a duplicate.
  return { 'GAP', tostring(idx), tostring(fresh), {}, '0', '', '', {} }
end
if wrongType then
  -- A key of one family has the wrong type: nothing applied, the sequence number unused (checked
  -- after DUP, so a batch an earlier attempt applied is never taken for unapplied). The caller
  -- takes that family's sections out of the batch, keeps them, and sends the rest again.
  return { 'WRONGTYPE', tostring(idx), tostring(fresh), {}, '0', wrongTypeText(wrongType), wrongType[4], {} }
end
if resetGiven then resetGaugeHashes() end
if givenIndex then
  redis.call('HSET', proc, 'seq', ARGV[2], 't', nowMs, 'idx', givenIndex .. (resetGiven and '!' or ''))
else
  redis.call('HSET', proc, 'seq', ARGV[2], 't', nowMs)
end
redis.call('EXPIRE', proc, procTtl)

--@include writes
--@include meta

local skip, conflicts = checkMetadata(metaKey, samplesKey, firstMeta, metaCount)

-- Series whose value this batch took past a double's range (addFloat): family, field pairs.
local pastRange = {}
local function addDelta(name, key, field, delta)
  if addFloat(key, field, delta) then
    pastRange[#pastRange + 1] = name
    pastRange[#pastRange + 1] = field
  end
end

--@include expiry

-- Where a family's series live: the family hash (and its expiry zset), shared by every process,
-- or this process's gauge hash of the family (per-process gauges; none without a gauge index).
local function familyTarget(name) return familyPrefix .. name, expiryPrefix .. name end
local function gaugeTarget(name)
  if idx >= 0 then return gaugeHashOf(name, idx) end
end

-- One function per op: (family name, payload, the section's third argument named per op).
local ops = {}

local function addDeltas(whole)
  return function(name, payload, expireSeconds)
    local key = familyPrefix .. name
    for field, delta in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
      if expireSeconds ~= '' then dropIfExpired(name, key, field) end
      local added = whole and not failed(redis.pcall('HINCRBY', key, field, delta))
      if not added then addDelta(name, key, field, delta) end
    end
    if expireSeconds ~= '' then touchExpiry(name, expireSeconds, payload) end
  end
end
ops.A = addDeltas(false)
ops.I = addDeltas(true)

function ops.S(name, payload, expireSeconds)
  hsetPairs(familyPrefix .. name, payload)
  if expireSeconds ~= '' then touchExpiry(name, expireSeconds, payload) end
end

function ops.N(name, payload, expireSeconds)
  local key = familyPrefix .. name
  local restored = {}
  for field, value in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
    -- HSETNX in effect, with HGET and HSET (the README's minimal ACL).
    local held = check(redis.pcall('HGET', key, field))
    if not held then
      write('HSET', key, field, value)
      restored[#restored + 1] = field .. '\n' .. value .. '\n'
    end
  end
  if expireSeconds ~= '' and #restored > 0 then touchExpiry(name, expireSeconds, table.concat(restored)) end
end

function ops.H(name, payload)
  local key = familyPrefix .. name
  for field, sum, spec in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n([^\n]*)\n') do
    -- The counts always apply; a sum past a double's range is stored as infinite (addFloat).
    addDelta(name, key, field .. '|s', sum)
    -- (pcall and check inline, not write(): this loop runs once per bucket of every series.)
    for sub, n in string.gmatch(spec, '([^,:]+):([^,]+)') do check(redis.pcall('HINCRBY', key, field .. '|' .. sub, n)) end
  end
end

function ops.G(name, payload)
  local gkey = gaugeTarget(name)
  if not gkey then return end
  hsetPairs(gkey, payload)
  write('EXPIRE', gkey, leaseTtl)
end

function ops.T(name, payload)
  local records = {}
  for field, value, age in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n([^\n]*)\n') do
    records[#records + 1] = field .. '\n' .. value .. '\n' .. field .. '|t\n'
      .. string.format('%.0f', nowUs - tonumber(age)) .. '\n'
  end
  ops.G(name, table.concat(records))
end

function ops.E(name, payload)
  local key = familyPrefix .. name
  for field, age, exemplar in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n([^\n]*)\n') do
    local at = nowUs - tonumber(age)
    local held = check(redis.pcall('HGET', key, field))
    if not failed(held) then
      local heldAt = held and tonumber(string.match(held, '^(%d+) '))
      if not heldAt or at >= heldAt then write('HSET', key, field, string.format('%.0f', at) .. ' ' .. exemplar) end
    end
  end
end

--@include window-ops

local function removeSeries(target)
  return function(name, payload, expireSeconds)
    local hash, zset = target(name)
    if not hash then return end
    removeFields('HDEL', hash, payload)
    if zset and expireSeconds ~= '' then removeFields('ZREM', zset, payload) end
  end
end
ops.D = removeSeries(familyTarget)
ops.d = removeSeries(gaugeTarget)

local function dropFamily(target)
  return function(name)
    local hash, zset = target(name)
    if zset then check(tryDropKeys(hash, zset)) elseif hash then check(tryDropKeys(hash)) end
  end
end
ops.X = dropFamily(familyTarget)
ops.x = dropFamily(gaugeTarget)

function ops.C(_, payload, createdKey)
  local created = now[1] .. string.format('.%03d', math.floor(tonumber(now[2]) / 1000))
  for field in string.gmatch(payload, '([^\n]*)\n') do
    -- HSETNX in effect, with HGET and HSET: the commands of the README's minimal ACL.
    local held = check(redis.pcall('HGET', createdKey, field))
    if not held then write('HSET', createdKey, field, created) end
  end
end

function ops.K(_, payload, createdKey) removeFields('HDEL', createdKey, payload) end

function ops.Z(_, _, createdKey) check(tryDropKeys(createdKey)) end

for p = firstSection, #ARGV, 4 do
  local op, name = ARGV[p], ARGV[p + 1]
  local run = ops[op]
  if run and not skip[name] then run(name, ARGV[p + 3], ARGV[p + 2]) end
end

return { 'OK', tostring(idx), tostring(fresh), conflicts, tostring(errors), firstError, '', pastRange, tostring(last) }
