-- drop: delete keys without holding Redis for their size. UNLINK removes a key at once and frees
-- a big value in a background thread (a 1M-field family hash: 0.1 ms, where DEL took 440 ms
-- here); a user whose ACL lacks +unlink gets DEL instead (the README's ACL grants both).
-- Defines dropKeys(...) (errors raised, as redis.call does) and tryDropKeys(...) (the pcall
-- reply, for include/writes' error counting).
local function tryDropKeys(...)
  local reply = redis.pcall('UNLINK', ...)
  -- Refused by the user's ACL: NOPERM, or inside a script "...can't run this command...".
  if type(reply) == 'table' and reply.err
    and (string.find(reply.err, 'NOPERM', 1, true) or string.find(reply.err, "can't run this command", 1, true)) then
    reply = redis.pcall('DEL', ...)
  end
  return reply
end

local function dropKeys(...)
  local reply = tryDropKeys(...)
  -- Any other error: raise it as redis.call would (DEL fails the same way).
  if type(reply) == 'table' and reply.err then redis.call('DEL', ...) end
  return reply
end
