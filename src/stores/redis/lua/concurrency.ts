/**
 * The lease script of createConcurrencyLimiter: one key per user key, a sorted set of lease ids
 * scored by their expiry (ms). Expired leases are dropped on every acquire (ZREMRANGEBYSCORE),
 * so no timer is needed and a crashed holder's slot frees itself at its lease's expiry. The key
 * lives until its latest lease expires.
 *
 *   KEYS[1]  "<namespace>:{<key>}:cc" (hash-tagged by the user key: one Cluster slot)
 *   ARGV[1]  the deadline in server ms, as for the decision script (lua/header.ts, runner.ts):
 *            a run starting later does nothing and answers { -1, server time }
 *   ARGV[2]  op: a(cquire) r(elease) n (renew) q (count live leases)
 *   ARGV[3]  the caller's time in ms, or "" for server TIME;  ARGV[4] extra TTL in ms for
 *            keys written with the caller's time (redisStore's ttlPadding)
 *   a: ARGV[5] max, ARGV[6] leaseMs, ARGV[7] the new lease id
 *   r: ARGV[5] id;   n: ARGV[5] id, ARGV[6] leaseMs;   q: nothing
 *
 * Replies start with the server time (the runner learns its clock offset from it); numbers
 * after it travel as text ("%d" or "%.17g": exact, where a Lua number reply would be truncated).
 *   a: 1 (granted) or 0, now, the new lease's expiry (granted) or the earliest held one, the
 *      latest held expiry, leases held
 *   r: 1 when a live lease was removed, else 0;   n: 1 and the new expiry, or 0;   q: count
 */
export const LUA_CONCURRENCY = `
if redis.replicate_commands then redis.replicate_commands() end
local serverNow
do
  local t = redis.call("TIME")
  serverNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if serverNow > tonumber(ARGV[1]) then return { -1, serverNow } end

local function fmt(x)
  if x == math.floor(x) and x < 9007199254740992 and x > -9007199254740992 then
    return string.format("%d", x)
  end
  return string.format("%.17g", x)
end

local key, op = KEYS[1], ARGV[2]
local now, pad = serverNow, 0
if ARGV[3] ~= "" then
  now = tonumber(ARGV[3])
  pad = tonumber(ARGV[4])
end

local function latest()
  local last = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
  return tonumber(last[2])
end

-- The key lives exactly as long as its latest lease (plus the caller-clock padding).
local function keepUntil(last)
  redis.call("PEXPIRE", key, math.ceil(last - now + pad))
end

if op == "a" then
  local max, leaseMs = tonumber(ARGV[5]), tonumber(ARGV[6])
  redis.call("ZREMRANGEBYSCORE", key, "-inf", fmt(now))
  local n = redis.call("ZCARD", key)
  if n >= max then
    local first = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
    return { serverNow, 0, fmt(now), first[2], fmt(latest()), n }
  end
  local expiresAt = now + leaseMs
  redis.call("ZADD", key, fmt(expiresAt), ARGV[7])
  local last = latest()
  keepUntil(last)
  return { serverNow, 1, fmt(now), fmt(expiresAt), fmt(last), n + 1 }
elseif op == "r" then
  local score = redis.call("ZSCORE", key, ARGV[5])
  if not score then return { serverNow, 0 } end
  redis.call("ZREM", key, ARGV[5])
  if tonumber(score) > now then return { serverNow, 1 } end
  return { serverNow, 0 }
elseif op == "n" then
  local score = redis.call("ZSCORE", key, ARGV[5])
  if not score then return { serverNow, 0 } end
  if tonumber(score) <= now then
    -- Expired: its slot may be someone else's by now; renewing would exceed max.
    redis.call("ZREM", key, ARGV[5])
    return { serverNow, 0 }
  end
  local expiresAt = now + tonumber(ARGV[6])
  redis.call("ZADD", key, "XX", fmt(expiresAt), ARGV[5])
  keepUntil(latest())
  return { serverNow, 1, fmt(expiresAt) }
elseif op == "q" then
  return { serverNow, redis.call("ZCOUNT", key, "(" .. fmt(now), "+inf") }
end
return redis.error_reply("throttlekit concurrency: unknown op " .. tostring(op))
`;
