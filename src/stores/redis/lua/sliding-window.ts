/**
 * Lua twin of src/core/algorithms/sliding-window.ts. State [prev, curr, index] at s[at..]; the weighted
 * estimate is computed as prev·(W − elapsed)/W + curr, the same single rounding as the TS.
 */
export const LUA_SLIDING_WINDOW = `
local SW = { width = 3 }
ALG["sliding-window"] = SW

local function swPrev(s, at, index)
  local stored = s[at + 2]
  if stored == index then return s[at] end
  if stored == index - 1 then return s[at + 1] end
  return 0
end

local function swCurr(s, at, index)
  if s[at + 2] == index then return s[at + 1] end
  return 0
end

local function swResetFrom(prev, curr, index, now, w)
  if curr > 0 then return (index + 2) * w - now end
  if prev > 0 then return (index + 1) * w - now end
  return 0
end

local function swAdmitsAt(prev, curr, index, t, cost, p)
  local w = p.windowMs
  local ti = floor(t / w)
  local pv, cv = prev, curr
  if ti == index + 1 then
    pv = curr
    cv = 0
  elseif ti > index + 1 then
    pv = 0
    cv = 0
  end
  return (pv * (w - (t - ti * w))) / w + cv + cost <= p.limit
end

local function swEarliestPass(prev, curr, index, now, cost, p)
  local w = p.windowMs
  local need = p.limit - cost - curr
  local t
  if need >= 0 then
    t = index * w + ceil(w - (need * w) / prev)
  else
    t = (index + 1) * w + max(0, ceil(w - ((p.limit - cost) * w) / curr))
  end
  t = max(t, floor(now) + 1)
  while t - 1 > now and swAdmitsAt(prev, curr, index, t - 1, cost, p) do t = t - 1 end
  while not swAdmitsAt(prev, curr, index, t, cost, p) do t = t + 1 end
  return t
end

-- evaluate and commit inline swPrev/swCurr/swResetFrom (a Lua call costs more than their work).
function SW.evaluate(s, at, now, cost, p, out)
  local w = p.windowMs
  local index = floor(now / w)
  local stored = s[at + 2]
  local prev, curr = 0, 0
  if stored == index then
    prev = s[at]
    curr = s[at + 1]
  elseif stored == index - 1 then
    prev = s[at + 1]
  end
  local estimate = (prev * (w - (now - index * w))) / w + curr
  out.delay = 0
  if estimate + cost <= p.limit then
    out.allowed = true
    local r = floor(p.limit - estimate - cost)
    if not (r > 0) then r = 0 end
    out.remaining = r
    if curr + cost > 0 then
      out.reset = (index + 2) * w - now
    elseif prev > 0 then
      out.reset = (index + 1) * w - now
    else
      out.reset = 0
    end
    out.retry = 0
    return
  end
  out.allowed = false
  out.remaining = max(0, floor(p.limit - estimate))
  out.reset = swResetFrom(prev, curr, index, now, w)
  out.retry = swEarliestPass(prev, curr, index, now, cost, p) - now
end

-- Returns the new and the old restAt (see decide.ts consume).
function SW.commit(s, at, now, cost, p)
  local w = p.windowMs
  local index = floor(now / w)
  local prev, curr, stored = s[at], s[at + 1], s[at + 2]
  local old = 0
  if curr > 0 then old = (stored + 2) * w elseif prev > 0 then old = (stored + 1) * w end
  if stored == index then
    curr = curr + cost
  elseif stored == index - 1 then
    prev = curr
    curr = 0 + cost
  else
    prev = 0
    curr = 0 + cost
  end
  s[at] = prev
  s[at + 1] = curr
  s[at + 2] = index
  if curr > 0 then return (index + 2) * w, old end
  if prev > 0 then return (index + 1) * w, old end
  return 0, old
end

function SW.refund(s, at, now, amount, p)
  local index = floor(now / p.windowMs)
  local prev = swPrev(s, at, index)
  local curr = swCurr(s, at, index)
  local fromCurr = min(curr, amount)
  s[at] = max(0, prev - (amount - fromCurr))
  s[at + 1] = curr - fromCurr
  s[at + 2] = index
end

function SW.restAt(s, at, p)
  local index = s[at + 2]
  if s[at + 1] > 0 then return (index + 2) * p.windowMs end
  if s[at] > 0 then return (index + 1) * p.windowMs end
  return 0
end
`;
