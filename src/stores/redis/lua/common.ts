/**
 * Lua shared by every algorithm twin: number formatting that survives the trip to JavaScript,
 * and the bucket family's scaled-integer arithmetic
 * (src/core/algorithms/bucket-math.ts, operation for operation).
 *
 * Lua numbers are IEEE doubles like JavaScript's, so the same operations in the same order give
 * the same bits. Two places could lose them, and both are avoided: `tostring` prints only 14
 * significant digits (we print whole numbers with "%d" and the rest with "%.17g", which
 * round-trips every double), and Redis truncates a Lua number reply to an integer (we reply
 * with one string).
 */
export const LUA_COMMON = `
local floor, ceil, huge, max, min = math.floor, math.ceil, math.huge, math.max, math.min
local format, concat = string.format, table.concat
local call = redis.call

-- "I" stands for Infinity (cost above capacity); everything else round-trips exactly: whole
-- numbers below 2^53 (nearly every value) print with "%d", twice as fast as "%.17g", which
-- prints the rest. Values repeat within a batch (the shared server time, small counts), hence
-- the memo. Zero is answered apart: -0 == 0 as a table key.
local memo = {}
local function fmt(x)
  local s = memo[x]
  if s then return s end
  if x == 0 then
    if 1 / x < 0 then return "-0" end
    return "0"
  end
  if x ~= x then return "nan" end
  if x == huge then
    s = "I"
  elseif x == floor(x) and x < 9007199254740992 and x > -9007199254740992 then
    s = format("%d", x)
  else
    s = format("%.17g", x)
  end
  memo[x] = s
  return s
end

local function textState(s)
  local parts = {}
  for i = 1, #s do parts[i] = fmt(s[i]) end
  return concat(parts, ",")
end

-- bucket-math.ts judgeDebt (p.capacity is p.burst * p.windowMs, computed once per batch)
local function judgeDebt(debt, cost, p, out)
  local capacity = p.capacity
  local after = debt + cost * p.windowMs
  out.delay = 0
  if after <= capacity then
    out.allowed = true
    out.remaining = floor((capacity - after) / p.windowMs)
    out.reset = ceil(after / p.limit)
    out.retry = 0
  else
    out.allowed = false
    out.remaining = floor((capacity - debt) / p.windowMs)
    out.reset = ceil(debt / p.limit)
    out.retry = ceil((after - capacity) / p.limit)
  end
end

-- bucket-math.ts drained: never negative; a clock that steps back drains nothing.
local function drained(debt, last, now, p)
  local elapsed = 0
  if now > last then elapsed = now - last end
  local d = debt - elapsed * p.limit
  if d > 0 then return d end
  return 0
end

local ALG = {}
`;
