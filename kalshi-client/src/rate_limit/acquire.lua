-- One atomic acquisition from a fleet-wide token bucket (see redis_store.rs).
--
-- KEYS[1]  the bucket: a hash {units, at}
-- KEYS[2]  this bucket's marker of having been in use (its absence after a
--          Redis restart makes a missing bucket start empty, not full)
-- KEYS[3]  this call's answer, kept a minute: a caller that timed out and
--          asks again with the same call id gets the first answer instead
--          of taking the tokens twice
-- ARGV[1]  refill rate, tokens per second (= units per microsecond)
-- ARGV[2]  capacity, tokens
-- ARGV[3]  tokens to take (negative: give back a reservation never used)
-- ARGV[4]  milliseconds an idle, full bucket is kept before it expires
--
-- Returns {wait, server_now, level}: microseconds the caller waits before
-- its request may go (0: now), the server's clock and the level after the
-- take, both in microseconds / units. Time is the server's own (TIME), so
-- hosts with skewed clocks share one timeline.
--
-- Tokens are counted in millionths (units) and time in microseconds, so a
-- bucket refilling r tokens per second gains exactly r units per
-- microsecond and every value stays an integer well inside a Lua double.
-- A take is a reservation: the level may go negative, and the next caller
-- waits behind it, so callers are served in the order they reached Redis.
local prior = redis.call('GET', KEYS[3])
if prior then
  local wait, now, units = string.match(prior, '^(-?%d+),(-?%d+),(-?%d+)$')
  return {tonumber(wait), tonumber(now), tonumber(units)}
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2]) * 1000000
local take = tonumber(ARGV[3]) * 1000000
local idle_ms = tonumber(ARGV[4])

local state = redis.call('HMGET', KEYS[1], 'units', 'at')
local units, at = tonumber(state[1]), tonumber(state[2])
if units == nil or at == nil then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    units = capacity -- expired while idle: it had refilled
  else
    units = 0 -- first use, or Redis lost its data: the exchange may be drained
  end
  at = now
end
if now > at then
  units = math.min(capacity, units + (now - at) * rate)
  at = now
end

local wait = 0
if take > 0 then
  local needed = math.min(take, capacity)
  if units < needed then
    wait = math.ceil((needed - units) / rate)
  end
end
units = math.min(capacity, units - take)

-- Written with %.0f: Lua 5.1 prints numbers with 14 significant digits,
-- too few for a microsecond clock.
redis.call('HSET', KEYS[1], 'units', string.format('%.0f', units), 'at', string.format('%.0f', at))
local full_in_ms = math.max(0, math.ceil((capacity - units) / rate / 1000))
redis.call('PEXPIRE', KEYS[1], full_in_ms + idle_ms)
redis.call('SET', KEYS[2], '1', 'PX', full_in_ms + idle_ms * 24)
redis.call('SET', KEYS[3], string.format('%.0f,%.0f,%.0f', wait, now, units), 'PX', 60000)
return {wait, now, units}
