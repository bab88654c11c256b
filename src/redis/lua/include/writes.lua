-- writes: commands that count a Redis error instead of aborting the script. Once a flush has
-- recorded its sequence number it must not stop half-way (Redis does not roll back): an error (a
-- key of the wrong type under the prefix, say) is counted and reported, and the rest applies.
-- Defines errors, firstError, check(reply), write(command, ...), failed(reply), addFloat,
-- hsetPairs and removeFields.
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

-- Float additions past a double's range. HINCRBYFLOAT refuses a delta or a result that is not
-- finite (a process's sum of two 1e308 observations is Infinity), and computes in long doubles,
-- whose results past a double's range readers would parse as infinite anyway. Such a value is
-- stored as JavaScript writes it ("Infinity", "-Infinity", "NaN" for +Inf plus -Inf), which
-- readers parse and the exposition prints as +Inf, -Inf, NaN (Prometheus accepts them).
-- addFloat(key, field, delta) returns true when this addition took a finite value past the
-- range, for the reply to name the series once; the next additions leave it as it is.
local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

local function nonFiniteText(x)
  if x ~= x then return 'NaN' elseif x > 0 then return 'Infinity' end
  return '-Infinity'
end

local function addFloat(key, field, delta)
  local reply = redis.pcall('HINCRBYFLOAT', key, field, delta)
  if not failed(reply) then
    local after = tonumber(reply)
    if finite(after) then return false end
    write('HSET', key, field, nonFiniteText(after))
    return true
  end
  local held = redis.pcall('HGET', key, field)
  local before, step = tonumber(held or '0'), tonumber(delta)
  if failed(held) or before == nil or step == nil or finite(before + step) then
    check(reply)
    return false
  end
  if finite(before) or before ~= before + step then write('HSET', key, field, nonFiniteText(before + step)) end
  return finite(before)
end

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
