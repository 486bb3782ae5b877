/** Lua twin of src/core/algorithms/gcra.ts. State [a, b] at s[at..]: TAT = a + b/L ms, 0 ≤ b < L. */
export const LUA_GCRA = `
local GC = { width = 2 }
ALG["gcra"] = GC

local function gcDebtAt(s, at, now, p)
  local d = (s[at] - now) * p.limit + s[at + 1]
  if d > 0 then return d end
  return 0
end

local function gcSetTat(s, at, now, debt, p)
  local whole = floor(debt / p.limit)
  s[at] = now + whole
  s[at + 1] = debt - whole * p.limit
end

-- evaluate and commit inline gcDebtAt and gcSetTat (a Lua call costs more than their work).
function GC.evaluate(s, at, now, cost, p, out)
  local d = (s[at] - now) * p.limit + s[at + 1]
  if not (d > 0) then d = 0 end
  judgeDebt(d, cost, p, out)
end

-- Returns the new and the old restAt (see decide.ts consume).
function GC.commit(s, at, now, cost, p)
  local a, b = s[at], s[at + 1]
  local old = a
  if b > 0 then old = a + 1 end
  local d = (a - now) * p.limit + b
  if not (d > 0) then d = 0 end
  local debt = d + cost * p.windowMs
  local whole = floor(debt / p.limit)
  a = now + whole
  b = debt - whole * p.limit
  s[at] = a
  s[at + 1] = b
  if b > 0 then return a + 1, old end
  return a, old
end

function GC.refund(s, at, now, amount, p)
  gcSetTat(s, at, now, max(0, gcDebtAt(s, at, now, p) - amount * p.windowMs), p)
end

function GC.restAt(s, at, p)
  if s[at + 1] > 0 then return s[at] + 1 end
  return s[at]
end
`;
