/**
 * Lua twin of src/core/algorithms/sliding-log.ts. The log is a flat list time, cost, time,
 * cost... oldest first (Lua indexes from 1, so entry i's time is log[i], its cost log[i + 1]).
 * A log is its own table, so `at` is unused; commit and refund return the log, which they may
 * replace (the TypeScript splices in place).
 */
export const LUA_SLIDING_LOG = `
local SL = { width = 0 }
ALG["sliding-log"] = SL

local function slFirstLive(log, now, p)
  local i, n = 1, #log
  while i <= n and log[i] <= now - p.windowMs do i = i + 2 end
  return i
end

local function slResetIn(log, from, now, p)
  if from <= #log then return log[#log - 1] + p.windowMs - now end
  return 0
end

local function slSplice(log, from)
  if from == 1 then return log end
  local kept, j = {}, 0
  for i = from, #log do
    j = j + 1
    kept[j] = log[i]
  end
  return kept
end

function SL.evaluate(log, _, now, cost, p, out)
  local from = slFirstLive(log, now, p)
  local used = 0
  for i = from, #log, 2 do used = used + log[i + 1] end
  out.delay = 0
  if used + cost <= p.limit then
    out.allowed = true
    out.remaining = p.limit - used - cost
    out.retry = 0
    if cost > 0 then out.reset = p.windowMs else out.reset = slResetIn(log, from, now, p) end
    return
  end
  out.allowed = false
  out.remaining = p.limit - used
  out.reset = slResetIn(log, from, now, p)
  local excess = used + cost - p.limit
  local freed = 0
  for i = from, #log, 2 do
    freed = freed + log[i + 1]
    if freed >= excess then
      out.retry = log[i] + p.windowMs - now
      return
    end
  end
  out.retry = huge
end

function SL.commit(log, _, now, cost, p)
  log = slSplice(log, slFirstLive(log, now, p))
  if cost <= 0 then return log end
  local n = #log
  if n > 0 and log[n - 1] == now then
    log[n] = log[n] + cost
  else
    log[n + 1] = now
    log[n + 2] = cost
  end
  return log
end

function SL.refund(log, _, now, amount, p)
  log = slSplice(log, slFirstLive(log, now, p))
  local left = amount
  while left > 0 and #log > 0 do
    local n = #log
    local c = log[n]
    if c > left then
      log[n] = c - left
      return log
    end
    left = left - c
    log[n] = nil
    log[n - 1] = nil
  end
  return log
end

function SL.restAt(log, _, p)
  local n = #log
  if n > 0 then return log[n - 1] + p.windowMs end
  return 0
end
`;
