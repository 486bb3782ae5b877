/**
 * The batch's view of Redis. Every record the batch reads is fetched up front with one MGET per
 * 256 keys (instead of a command per decision), kept in a Lua table while the decisions run in
 * order (a later decision on the same key sees the earlier one's writes), and written once at
 * the end: SET with its final PX, or DEL. The script is atomic, so this is indistinguishable
 * from writing as it goes, and a hot key costs one read and one write per batch.
 */
export const LUA_BATCH_STATE = `
local val, px = {}, {}
local KEEP = -1

local function prefetch(keys, n)
  local i = 1
  while i <= n do
    local last = min(n, i + 255)
    local got = call("MGET", unpack(keys, i, last))
    for j = i, last do val[keys[j]] = got[j - i + 1] end
    i = last + 1
  end
end

local function get(key)
  local v = val[key]
  if v == nil then
    v = call("GET", key) or false
    val[key] = v
  end
  return v
end

-- v false deletes the key; ttl is its PX when v is its final value (KEEP: leave the TTL as is).
local function put(key, v, ttl)
  val[key] = v
  px[key] = ttl or 0
end

-- Write order does not matter: the script is atomic and replicated by its effects.
local function writeBack()
  for key, ttl in pairs(px) do
    local v = val[key]
    if not v then
      call("DEL", key)
    elseif ttl == KEEP then
      call("SET", key, v, "KEEPTTL")
    else
      call("SET", key, v, "PX", ttl)
    end
  end
end
`;
