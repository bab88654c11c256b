-- meta: the metadata check of a flush. Each family sent is stored in the meta hash when new,
-- updated when only its HELP changed, and refused (its sections skipped, the conflict returned)
-- when its stored shape differs, or when it is new and one of its sample names is already
-- produced by another family (x vs x_count, across processes). Needs write (include writes).
-- Reads count triples (name, encoded metadata, "\n"-separated sample names) from ARGV[first];
-- returns skip (name -> true) and conflicts (a flat list of name, reason).
local function checkMetadata(metaKey, samplesKey, first, count)
  local skip, conflicts = {}, {}
  local function refuse(name, reason)
    skip[name] = true
    conflicts[#conflicts + 1] = name
    conflicts[#conflicts + 1] = reason
  end
  for at = first, first + 3 * (count - 1), 3 do
    local name, encoded, samples = ARGV[at], ARGV[at + 1], ARGV[at + 2]
    local stored = redis.call('HGET', metaKey, name)
    if not stored then
      local clash = nil
      for sample in string.gmatch(samples, '[^\n]+') do
        local owner = redis.call('HGET', samplesKey, sample)
        if owner and owner ~= name then
          clash = 'family "' .. owner .. '", which already exposes ' .. sample
          break
        end
      end
      if clash then
        refuse(name, clash)
      else
        write('HSET', metaKey, name, encoded)
        for sample in string.gmatch(samples, '[^\n]+') do write('HSET', samplesKey, sample, name) end
      end
    elseif stored ~= encoded then
      local storedShape = string.match(stored, '^[^\n]*')
      if storedShape == string.match(encoded, '^[^\n]*') then
        write('HSET', metaKey, name, encoded)
      else
        refuse(name, storedShape)
      end
    end
  end
  return skip, conflicts
end
