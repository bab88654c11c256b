-- window-ops: the flush ops on a summary's quantile window (see include/window.lua): Q adds
-- sketch bucket counts to the current slot, R removes series from every slot, W drops every
-- slot key. Needs ops, write, check, failed, removeFields (include writes) and tryDropKeys
-- (include drop); flush-4.lua's header describes the payloads.
function ops.Q(_, payload, window)
  local base, width, slots, slot = windowOf(window)
  local qkey = windowSlotKey(base, slot)
  for field, spec in string.gmatch(payload, '([^\n]*)\n([^\n]*)\n') do
    for bucket, n in string.gmatch(spec, '([^,:]+):([^,]+)') do write('HINCRBY', qkey, field .. '|' .. bucket, n) end
  end
  local ttlMs = (slot + 1 + slots) * width - nowMs
  write('EXPIRE', qkey, string.format('%.0f', math.ceil(ttlMs / 1000)))
end

function ops.R(_, payload, window)
  local base, _, slots, slot = windowOf(window)
  local gone = {}
  for field in string.gmatch(payload, '([^\n]*)\n') do gone[field] = true end
  for s = slot - slots, slot do
    local qkey = windowSlotKey(base, s)
    local doomed = {}
    local fields = check(redis.pcall('HKEYS', qkey))
    if not failed(fields) then
      for _, f in ipairs(fields) do
        if gone[string.match(f, '^(.*)|[^|]*$')] then doomed[#doomed + 1] = f end
      end
    end
    if #doomed > 0 then removeFields('HDEL', qkey, table.concat(doomed, '\n') .. '\n') end
  end
end

function ops.W(_, _, window)
  local base, _, slots, slot = windowOf(window)
  for s = slot - slots, slot do check(tryDropKeys(windowSlotKey(base, s))) end
end
