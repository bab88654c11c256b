-- expiry: the per-field expiry of a common gauge with expireSeconds (its expiry zset: field ->
-- time it expires, ms). Needs familyPrefix, expiryPrefix (flush-4.lua), nowMs (include clock),
-- write, check, failed (include writes).
-- A common-gauge series past its expiry is gone for readers; an increment must start it from
-- zero, not from the stale value still stored (pruning is bounded per flush).
local function dropIfExpired(name, key, field)
  local at = redis.pcall('ZSCORE', expiryPrefix .. name, field)
  if type(at) == 'string' and tonumber(at) <= nowMs then
    write('HDEL', key, field)
    write('ZREM', expiryPrefix .. name, field)
  end
end

local function touchExpiry(name, expireSeconds, payload)
  local xkey = expiryPrefix .. name
  local at = nowMs + tonumber(expireSeconds) * 1000
  for field in string.gmatch(payload, '([^\n]*)\n[^\n]*\n') do write('ZADD', xkey, at, field) end
  -- Prune series that expired (at most 1000 per flush; readers skip the rest).
  local expired = redis.pcall('ZRANGEBYSCORE', xkey, '-inf', nowMs, 'LIMIT', 0, 1000)
  if failed(expired) then
    check(expired)
  elseif #expired > 0 then
    write('HDEL', familyPrefix .. name, unpack(expired))
    write('ZREM', xkey, unpack(expired))
  end
end
