-- probe: Redis Cluster resharding. Declared keys are checked by Redis before a script runs,
-- keys built from prefixes are not: touch each of them first, and name the first one that is
-- not on this node (its slot is moving), so the script can stop before writing anything.
local function firstMovedKey(keys)
  for _, key in ipairs(keys) do
    local reply = redis.pcall('EXISTS', key)
    if type(reply) == 'table' and reply.err then return key .. ': ' .. reply.err end
  end
  return nil
end
