-- probe: every key a flush may touch, looked at with TYPE before anything is written, for two
-- things a write part-way would otherwise find too late (Redis does not roll back):
--   * Redis Cluster resharding. Declared keys are checked by Redis before a script runs, keys
--     built from prefixes are not: the first one not on this node means its slot is moving.
--   * A key of the wrong type (a user's key under the prefix, say): every write to it would fail.
--     A key not yet moved is not enough: on the node importing the slot (the flush sent there
--     by ASK once the declared keys moved), a key still on the source node is simply missing,
--     and a write would create a partial copy that the migration then cannot move (BUSYKEY).
--     So in a cluster each key is also looked at together with a declared key (EXISTS key,
--     pair): Redis answers TRYAGAIN to a multi-key command on a slot being moved unless this
--     node holds both, which stops the flush (MOVING) until the key has moved too.
-- A user whose ACL lacks +type (the README's ACL before 0.2) gets EXISTS: the moving check only.
--
-- probeKey(probe, key, expected, family) adds a key to probe.keys once, with the type the batch
-- needs ('hash', 'zset', 'set', 'string'; false for any: a key only dropped or kept alive) and
-- the family it belongs to ('' for the registry's own keys). probeKeys(probe, pair) returns
-- moved (the key and error), or nil, and wrong: the first key of the wrong type, { key, held
-- type, expected type, family }, the registry's own keys first; pair (a declared key, or nil)
-- is the partner of the cluster check above.
local function probeKey(probe, key, expected, family)
  local seen = probe.seen[key]
  if seen then
    if not seen[2] then seen[2] = expected end
    return
  end
  seen = { key, expected, family }
  probe.seen[key] = seen
  probe.keys[#probe.keys + 1] = seen
end

local function refusedCommand(reply)
  return type(reply) == 'table' and reply.err
    and (string.find(reply.err, 'NOPERM', 1, true) or string.find(reply.err, "can't run this command", 1, true))
end

local function probeKeys(probe, pair)
  local command = 'TYPE'
  local wrongOwn, wrongFamily = nil, nil
  if pair and not string.find(redis.call('INFO', 'cluster'), 'cluster_enabled:1', 1, true) then pair = nil end
  for _, entry in ipairs(probe.keys) do
    local key = entry[1]
    if pair then
      local both = redis.pcall('EXISTS', key, pair)
      if refusedCommand(both) then
        pair = nil
      elseif type(both) == 'table' and both.err then
        return key .. ': ' .. both.err, nil
      end
    end
    local reply = redis.pcall(command, key)
    if command == 'TYPE' and refusedCommand(reply) then
      command = 'EXISTS'
      reply = redis.pcall(command, key)
    end
    if type(reply) == 'table' and reply.err then return key .. ': ' .. reply.err, nil end
    local held = command == 'TYPE' and reply.ok or 'none'
    if entry[2] and held ~= 'none' and held ~= entry[2] then
      local wrong = { key, held, entry[2], entry[3] }
      if entry[3] == '' then wrongOwn = wrongOwn or wrong else wrongFamily = wrongFamily or wrong end
    end
  end
  return nil, wrongOwn or wrongFamily
end
