-- window: a summary's time window in the flush script. The slot length comes in the window spec,
-- computed once by src/redis/quantile-window.ts quantileSlotMs (scrapes cut the window by the
-- same rule, src/export/scan.ts). Needs nowMs (include clock first).
--
-- The window (maxAgeSeconds, ageBuckets) is cut into ageBuckets slots of
-- floor(maxAgeSeconds * 1000 / ageBuckets) ms; slot s of the server's clock is
-- floor(time ms / slot ms), and its buckets live in hash "<key base><s>". Readers merge the
-- current slot and the ageBuckets - 1 before it; writers let a slot key expire ageBuckets + 1
-- slot lengths after its slot began, so after the last read that can include it.

local function windowSlotKey(base, slot) return base .. string.format('%.0f', slot) end

-- A flush section's window spec "<slot ms> <ageBuckets> <key base>": key base, slot length,
-- slot count and the current slot.
local function windowOf(spec)
  local width, slots, base = string.match(spec, '^(%d+) (%d+) (.*)$')
  width, slots = tonumber(width), tonumber(slots)
  return base, width, slots, math.floor(nowMs / width)
end
