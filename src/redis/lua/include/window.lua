-- window: the quantile slot rule of a summary's time window, the one home of it in Lua (used by
-- flush and read; src/redis/quantile-window.ts quantileSlotMs is its TypeScript mirror, pinned
-- by test/integration/lua-contract.test.ts). Needs nowMs (include clock first).
--
-- The window (maxAgeSeconds, ageBuckets) is cut into ageBuckets slots of
-- floor(maxAgeSeconds * 1000 / ageBuckets) ms; slot s of the server's clock is
-- floor(time ms / slot ms), and its buckets live in hash "<key base><s>". Readers merge the
-- current slot and the ageBuckets - 1 before it; writers let a slot key expire ageBuckets + 1
-- slot lengths after its slot began, so after the last read that can include it.

-- Slot length in ms, or nil when the window is not one the library creates (1..100 buckets,
-- at least one second per bucket).
local function windowSlotMs(maxAgeSeconds, ageBuckets)
  if not maxAgeSeconds or not ageBuckets or ageBuckets < 1 or ageBuckets > 100 or maxAgeSeconds < ageBuckets then
    return nil
  end
  return math.floor(maxAgeSeconds * 1000 / ageBuckets)
end

local function windowSlotKey(base, slot) return base .. string.format('%.0f', slot) end

-- A flush section's window spec "<slot ms> <ageBuckets> <key base>": key base, slot length,
-- slot count and the current slot.
local function windowOf(spec)
  local width, slots, base = string.match(spec, '^(%d+) (%d+) (.*)$')
  width, slots = tonumber(width), tonumber(slots)
  return base, width, slots, math.floor(nowMs / width)
end
