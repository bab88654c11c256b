-- lease: a process's gauge index (registry layout, gauge index argument "1"). The index names
-- the process's per-process gauge hashes; its lease `<lease prefix><i>` holds the process id and
-- expires unless renewed. Keep the lease we hold, retake it if it lapsed and is still free, else
-- claim the smallest free index (and add it to the gauge index set readers walk).
-- Returns the index and fresh: 1 when (re)claimed, so its gauge hashes may hold a dead
-- process's values and the caller must write every gauge again.
local function holdGaugeIndex(proc, pid, leasePrefix, leaseTtl, gidxKey)
  local idx, fresh = -1, 0
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
  return idx, fresh
end
