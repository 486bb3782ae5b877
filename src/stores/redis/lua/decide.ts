/**
 * The driver: decides a batch of operations in order, each with the same flow as
 * src/core/memory-store.ts (the whole script is atomic). Arguments:
 *
 *   KEYS[d]   the record of operation d, "<namespace>:{<key>}:<policy ids>" (record.ts)
 *   ARGV[1]   the deadline in server ms: a run starting later does nothing (header.ts)
 *   ARGV[2]   number of policies P;  ARGV[3] "1" to return states of rejected consumes (local
 *             cache);  ARGV[4] extra TTL in ms for records written with the caller's time
 *   ARGV[5..] 7 fields per policy: algorithm, limit, windowMs, burst, blockFor, mode,
 *             maxDelayMs; blockFor is "<ms>", or "<base>:<factor>:<maxMs>:<forgetAfterMs>"
 *             for an escalating one
 *   then one "<op><units>,<now>" per operation: op c(onsume) p(eek) r(efund) x (reset)
 *             b(lock) u(nblock); units is the cost, refund amount or block ms; now is empty for
 *             server TIME
 *
 * The reply is one flat array for the whole batch (reply.ts reads it), after the server time
 * of the run; or -1 and the server time when the run started past its deadline. Numbers travel as Redis
 * integers, exact for whole numbers below 2^53 and costing the script no formatting; anything
 * else (a fraction from a fractional clock, Infinity, -0) travels as text.
 */
export const LUA_DECIDE = `
-- The reply is written inline (R[ri]) on the hot path: a Lua call costs more than the work.
-- Its first element is the server time the run started at (header.ts).
local R, ri = { serverNow }, 1
local LIMIT53 = 9007199254740992

-- Whether x travels exactly as a Redis integer: whole, below 2^53, not -0 (NaN is not whole).
local function exactInteger(x)
  return x % 1 == 0 and x < LIMIT53 and x > -LIMIT53 and (x ~= 0 or 1 / x > 0)
end

-- An allowed verdict's remaining and reset, when both can travel as plain integers: both
-- exactInteger and not negative, spelled out (called per policy per decision, where the two
-- nested calls cost more than the tests).
local function plainNumbers(a, b)
  return a >= 0 and b >= 0 and a % 1 == 0 and b % 1 == 0 and a < LIMIT53 and b < LIMIT53
    and (a ~= 0 or 1 / a > 0) and (b ~= 0 or 1 / b > 0)
end

local function pushNum(x)
  ri = ri + 1
  if exactInteger(x) then
    R[ri] = x
  else
    R[ri] = fmt(x)
  end
end

-- 3, remaining, reset: allowed with no wait and no delay (the common case, kept short);
-- otherwise 1 (allowed) or 0 (rejected), remaining, reset, retry, delay.
local function pushVerdict(v)
  local remaining, reset = v.remaining, v.reset
  if v.allowed and v.retry == 0 and v.delay == 0 and plainNumbers(remaining, reset) then
    R[ri + 1] = 3
    R[ri + 2] = remaining
    R[ri + 3] = reset
    ri = ri + 3
    return
  end
  ri = ri + 1
  R[ri] = v.allowed and 1 or 0
  pushNum(remaining)
  pushNum(reset)
  pushNum(v.retry)
  pushNum(v.delay)
end

local function push(x)
  ri = ri + 1
  R[ri] = x
end

-- A reply kind that carries the time: \`same\` when at the time of the previous answer (a batch
-- on server time shares one), else \`fresh\` and the time.
local lastNow
local function pushTimed(same, fresh, now)
  if now == lastNow then
    push(same)
  else
    push(fresh)
    pushNum(now)
    lastNow = now
  end
end

-- Verdicts with no block started and no states: 4, or 1 and the time.
local function pushHead(now)
  pushTimed(4, 1, now)
end

-- A key in its penalty box: 2, the time, and when the block ends.
local function pushBlocked(now, untilAt)
  push(2)
  pushNum(now)
  pushNum(untilAt)
end

-- The record lives exactly as long as something in it matters (its latest restAt or block
-- end, minus now), plus the slack that absorbs callers' clocks not in step with the server's.
local function restOf(v, LG)
  local rest = v[1]
  for i = 1, P do
    local p = POL[i]
    local r = p.A.restAt(p.log and LG[i] or v, p.at, p)
    if r > rest then rest = r end
    if p.esc and v[p.esc + 1] > rest then rest = v[p.esc + 1] end
  end
  return rest
end

-- The latest time an escalating policy forgets its last block (0 without escalation): part of
-- the record's rest time, which the allowed path works out from its commits.
local function rememberedUntil(v)
  local at = 0
  for i = 1, P do
    local e = POL[i].esc
    if e and v[e + 1] > at then at = v[e + 1] end
  end
  return at
end

-- Per policy, the (unrounded) block an escalating rejection is starting, or false.
local NEXT = {}
for i = 1, P do NEXT[i] = false end

-- keptUntil: with server time, the rest time the key's current TTL already covers (it was set
-- from the record now being replaced). When the new record rests no later, the TTL is kept
-- (SET KEEPTTL): formatting and parsing a PX is a third of a write's cost, and a window
-- algorithm's rest time only moves once per window.
-- rest: restOf(v, LG), when the caller has it already.
local function save(key, v, LG, now, pad, keptUntil, rest)
  rest = rest or restOf(v, LG)
  if rest <= now then
    put(key, false)
  elseif keptUntil and rest <= keptUntil then
    put(key, encodeRecord(v, LG), KEEP)
  else
    -- PX as text: Redis formats a Lua number argument with "%.17g", slower than fmt's memo.
    put(key, encodeRecord(v, LG), fmt(ceil(rest - now + pad)))
  end
end

local LG = {}

-- The hot path: judge and the reply are inlined (a Lua call costs more than their work).
local function consume(key, cost, now, pad, serverTime)
  local raw = get(key)
  local v = readRecord(raw, LG)
  if v[1] > now then return pushBlocked(now, v[1]) end
  local allowed = true
  for i = 1, P do
    local p, ver = POL[i], VER[i]
    if cost > p.burst or p.log then
      judge(p, p.log and LG[i] or v, p.at, now, cost, ver)
    else
      p.A.evaluate(v, p.at, now, cost, p, ver)
    end
    if not ver.allowed then allowed = false end
  end
  if allowed then
    if cost > 0 then
      -- restOf before and after, from the commits themselves: a window's commit knows both
      -- rest times, and a call per policy to ask again costs more than the arithmetic.
      -- The old block's end is left out of both: it is at most now (a live one was answered
      -- above), and the new block is none.
      local rest, kept = 0, 0
      for i = 1, P do
        local p = POL[i]
        local r, k
        if p.log then
          k = p.A.restAt(LG[i], 1, p)
          LG[i] = p.A.commit(LG[i], 1, now, cost, p)
          r = p.A.restAt(LG[i], 1, p)
        else
          r, k = p.A.commit(v, p.at, now, cost, p)
        end
        if r > rest then rest = r end
        if k > kept then kept = k end
      end
      if ESC then
        -- The history of blocks stays as it is, and the TTL covered it already.
        local u = rememberedUntil(v)
        if u > rest then rest = u end
        if u > kept then kept = u end
      end
      -- A live block was answered above; an expired one is dropped (memory-store.ts).
      v[1] = 0
      save(key, v, LG, now, pad, serverTime and raw and kept, rest)
    end
    -- Every verdict simple (no wait, no delay, whole remaining and reset): 6 at the previous
    -- answer's time or 7 and the time, then remaining, reset per policy (the common case).
    -- An allowed verdict never waits (retry 0), and only delay mode delays: per verdict, only
    -- the numbers need checking (whole, in range, not -0).
    local simple = NO_DELAY
    if simple then
      for i = 1, P do
        local ver = VER[i]
        if not plainNumbers(ver.remaining, ver.reset) then
          simple = false
          break
        end
      end
    end
    if simple then
      pushTimed(6, 7, now)
      for i = 1, P do
        local ver = VER[i]
        R[ri + 1] = ver.remaining
        R[ri + 2] = ver.reset
        ri = ri + 2
      end
      return
    end
    pushHead(now)
    for i = 1, P do pushVerdict(VER[i]) end
    return
  end
  push(5)
  pushNum(now)
  lastNow = now
  local blockFor = 0
  for i = 1, P do
    local p, ver = POL[i], VER[i]
    if ver.allowed then
      judge(p, p.log and LG[i] or v, p.at, now, 0, ver)
    elseif ver.retry ~= huge then
      local ms = p.blockForMs
      if ms > 0 then
        local e = p.esc
        if e then
          -- memory/escalations.ts nextBlockMs: the row of blocks grows by factor up to max,
          -- unless its last block is forgotten (a product, as in TypeScript: no pow).
          local last, nextMs = v[e], ms
          if last ~= 0 and now < v[e + 1] then
            nextMs = last * p.factor
            if nextMs > p.maxMs then nextMs = p.maxMs end
          end
          NEXT[i] = nextMs
          ms = ceil(nextMs)
        end
        -- memory/binding.ts penalise (issue 13 item 5): the rejection that starts a block
        -- tells the block's wait when longer than the policy's, and resets no sooner.
        if ms > ver.retry then ver.retry = ms end
        if ver.reset < ver.retry then ver.reset = ver.retry end
        if ms > blockFor then blockFor = ms end
      end
    end
  end
  if blockFor > 0 then
    -- A live block was answered above, so this one starts afresh (memory-store.ts setBlock).
    v[1] = now + blockFor
    if ESC then
      -- memory/binding.ts remember: each block is remembered until forgetAfter past its end.
      for i = 1, P do
        local nextMs = NEXT[i]
        if nextMs then
          local e = POL[i].esc
          v[e] = nextMs
          v[e + 1] = v[1] + POL[i].forgetMs
          NEXT[i] = false
        end
      end
    end
    save(key, v, LG, now, pad)
    pushNum(v[1])
  else
    push(false)
  end
  push(wantState and 1 or 0)
  for i = 1, P do pushVerdict(VER[i]) end
  if wantState then
    for i = 1, P do push(stateText(i, v, LG)) end
  end
end

local function peek(key, cost, now)
  local v = readRecord(get(key), LG)
  if v[1] > now then return pushBlocked(now, v[1]) end
  pushHead(now)
  for i = 1, P do
    local p, ver = POL[i], VER[i]
    local s = p.log and LG[i] or v
    judge(p, s, p.at, now, cost, ver)
    local allowed, retry, delay = ver.allowed, ver.retry, ver.delay
    judge(p, s, p.at, now, 0, ver)
    ver.allowed = allowed
    ver.retry = retry
    ver.delay = delay
    pushVerdict(ver)
  end
end

local function refund(key, amount, now, pad, serverTime)
  local raw = get(key)
  if amount <= 0 or not raw then return end
  local v = readRecord(raw, LG)
  local kept = serverTime and restOf(v, LG)
  for i = 1, P do
    local p = POL[i]
    if p.log then LG[i] = p.A.refund(LG[i], 1, now, amount, p) else p.A.refund(v, p.at, now, amount, p) end
  end
  save(key, v, LG, now, pad, kept)
end

-- memory-store.ts setBlock: a block only ever extends.
local function blockKey(key, ms, now, pad)
  local v = readRecord(get(key), LG)
  local untilT = now + ms
  if untilT > v[1] and untilT > now then
    v[1] = untilT
    save(key, v, LG, now, pad)
  end
end

-- Unblocking keeps the record's TTL: no time is given, and the states' lifetimes are unchanged.
local function unblock(key)
  local raw = get(key)
  if not raw then return end
  local v = readRecord(raw, LG)
  if v[1] ~= 0 then
    v[1] = 0
    put(key, encodeRecord(v, LG), KEEP)
  end
end

-- Every record the batch needs, read in a few MGETs (a reset's read is wasted, and cheap).
prefetch(KEYS, #KEYS)

-- Operations are parsed once per distinct text: most of a batch reads "c1,".
local parsed = {}
for d = 1, #KEYS do
  local text = ARGV[FIRST + d]
  local p = parsed[text]
  if not p then
    local op, units, at = string.match(text, "^(%a)([^,]*),(.*)$")
    p = { op, tonumber(units), at ~= "" and tonumber(at) or false }
    parsed[text] = p
  end
  local key, op, units, now, pad = KEYS[d], p[1], p[2], p[3], slack
  local serverTime = not now
  if serverTime then
    now = serverNow
    pad = 0
  end
  if op == "c" then
    consume(key, units, now, pad, serverTime)
  elseif op == "p" then
    peek(key, units, now)
  else
    if op == "r" then
      refund(key, units, now, pad, serverTime)
    elseif op == "x" then
      put(key, false)
    elseif op == "b" then
      blockKey(key, units, now, pad)
    elseif op == "u" then
      unblock(key)
    else
      return redis.error_reply("throttlekit: unknown operation " .. tostring(op))
    end
    push(0)
  end
end
writeBack()
return R
`;
