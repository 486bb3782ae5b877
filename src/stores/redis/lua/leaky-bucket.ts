/**
 * Lua twin of src/core/algorithms/leaky-bucket.ts: the token bucket's scaled level, plus
 * "delay" mode (admit with delayMs, reject when the delay would exceed maxDelayMs).
 */
export const LUA_LEAKY_BUCKET = `
local LB = { width = 2 }
ALG["leaky-bucket"] = LB

function LB.evaluate(s, at, now, cost, p, out)
  local level = drained(s[at], s[at + 1], now, p)
  judgeDebt(level, cost, p, out)
  if p.mode ~= "delay" then return end
  local delay = ceil(level / p.limit)
  if out.allowed and delay > p.maxDelayMs then
    out.allowed = false
    out.remaining = floor((p.burst * p.windowMs - level) / p.windowMs)
    out.reset = ceil(level / p.limit)
    out.retry = delay - p.maxDelayMs
  elseif out.allowed then
    out.delay = delay
  else
    out.retry = max(out.retry, delay - p.maxDelayMs)
  end
end

LB.commit = ALG["token-bucket"].commit
LB.refund = ALG["token-bucket"].refund
LB.restAt = ALG["token-bucket"].restAt
`;
