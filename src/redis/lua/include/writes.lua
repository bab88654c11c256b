-- writes: commands that count a Redis error instead of aborting the script. Once a flush has
-- recorded its sequence number it must not stop half-way (Redis does not roll back): an error (a
-- key of the wrong type under the prefix, say) is counted and reported, and the rest applies.
-- Defines errors, firstError, check(reply), write(command, ...), hsetPairs and removeFields.
local errors, firstError = 0, ''
local function check(reply)
  if type(reply) == 'table' and reply.err then
    errors = errors + 1
    if firstError == '' then firstError = reply.err end
  end
  return reply
end

local function write(...)
  return check(redis.pcall(...))
end

-- Whether a pcall reply is an error.
local function failed(reply) return type(reply) == 'table' and reply.err ~= nil end

-- HSET key with payload "field \n value \n ...", 500 pairs per command.
local function hsetPairs(key, payload)
  local args, n = {}, 0
  for field, value in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
    args[n + 1], args[n + 2] = field, value
    n = n + 2
    if n >= 1000 then
      write('HSET', key, unpack(args, 1, n))
      n = 0
    end
  end
  if n > 0 then write('HSET', key, unpack(args, 1, n)) end
end

-- HDEL or ZREM (command) from key the members of payload "member \n ...", 1000 per command.
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
