/**
 * Lua twin of src/core/algorithms/fixed-window.ts. State [count, start] at s[at], s[at + 1]
 * (the same (s, at) form as the TypeScript kernels; Lua indexes from 1).
 */
export const LUA_FIXED_WINDOW = `
local FW = { width = 2 }
ALG["fixed-window"] = FW

function FW.evaluate(s, at, now, cost, p, out)
  local count, start = s[at], s[at + 1]
  if count <= 0 or now >= start + p.windowMs then
    count = 0
    start = now
  end
  local after = count + cost
  out.delay = 0
  if after <= p.limit then
    out.allowed = true
    out.remaining = p.limit - after
    if after > 0 then out.reset = start + p.windowMs - now else out.reset = 0 end
    out.retry = 0
  else
    out.allowed = false
    out.remaining = p.limit - count
    if count > 0 then out.reset = start + p.windowMs - now else out.reset = 0 end
    out.retry = start + p.windowMs - now
  end
end

-- Returns the new and the old restAt (see decide.ts consume).
function FW.commit(s, at, now, cost, p)
  local w = p.windowMs
  local count, start = s[at], s[at + 1]
  local old = 0
  if count > 0 then old = start + w end
  if count <= 0 or now >= start + w then
    count = 0
    start = now
    s[at + 1] = now
  end
  count = count + cost
  s[at] = count
  if count > 0 then return start + w, old end
  return 0, old
end

function FW.refund(s, at, now, amount, p)
  if s[at] > 0 and now < s[at + 1] + p.windowMs then s[at] = max(0, s[at] - amount) end
end

function FW.restAt(s, at, p)
  if s[at] > 0 then return s[at + 1] + p.windowMs end
  return 0
end
`;
