/** Lua twin of src/core/algorithms/token-bucket.ts. State [debt, last] at s[at..], debt = (B − tokens) × W. */
export const LUA_TOKEN_BUCKET = `
local TB = { width = 2 }
ALG["token-bucket"] = TB

function TB.evaluate(s, at, now, cost, p, out)
  judgeDebt(drained(s[at], s[at + 1], now, p), cost, p, out)
end

-- Returns the new and the old restAt (see decide.ts consume).
function TB.commit(s, at, now, cost, p)
  local debt, last = s[at], s[at + 1]
  local old = 0
  if debt > 0 then old = last + ceil(debt / p.limit) end
  debt = drained(debt, last, now, p) + cost * p.windowMs
  if now > last then last = now end
  s[at] = debt
  s[at + 1] = last
  if debt > 0 then return last + ceil(debt / p.limit), old end
  return 0, old
end

function TB.refund(s, at, now, amount, p)
  s[at] = max(0, drained(s[at], s[at + 1], now, p) - amount * p.windowMs)
  s[at + 1] = max(now, s[at + 1])
end

function TB.restAt(s, at, p)
  if s[at] > 0 then return s[at + 1] + ceil(s[at] / p.limit) end
  return 0
end
`;
