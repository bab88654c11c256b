-- clock: the server's time, read once per call, so every process dates and slots by one clock.
-- Defines now (the TIME reply), nowMs and nowUs.
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local nowUs = tonumber(now[1]) * 1000000 + tonumber(now[2])
