/**
 * The stored record: one Redis string per limiter and user key, holding the block and every
 * policy's state, so a decision reads one key and writes one key however many policies it has.
 *
 * In memory the record is a flat table V, like the memory store's rows: V[1] is the block's end
 * (0: none) and policy i's row starts at V[POL[i].at]. A log policy keeps its own table LG[i].
 * Stored as little-endian IEEE doubles (exact, packed and unpacked in C without formatting):
 *
 *   V[1..NFIXED] | per log policy: a uint32 count, then that many numbers (time, cost, ...)
 *
 * An absent key is the fresh record: no block, rows of zeros, empty logs.
 */
export const LUA_RECORD = `
local pack, unpackAt, rep = struct.pack, struct.unpack, string.rep
local LOG_CHUNK = 2000

local FIXED, NFIXED, HASLOG = "<d", 1, false
for i = 1, P do
  local p = POL[i]
  local w = p.A.width
  p.log = w == 0
  if p.log then
    p.at = 1
    HASLOG = true
  else
    p.at = NFIXED + 1
    FIXED = FIXED .. rep("d", w)
    NFIXED = NFIXED + w
  end
end
local FIXED_BYTES = NFIXED * 8

-- Decisions are made one at a time, so one table holds the record being decided (no garbage
-- per decision); it is re-filled on every read.
local V = {}

local function freshRecord(LG)
  local v = V
  for j = 1, NFIXED do v[j] = 0 end
  if HASLOG then
    for i = 1, P do
      if POL[i].log then LG[i] = {} end
    end
  end
  return v
end

local function readLog(raw, pos)
  local n
  n, pos = unpackAt("<I4", raw, pos)
  local log, got = {}, 0
  while got < n do
    local chunk = min(n - got, LOG_CHUNK)
    local values = { unpackAt("<" .. rep("d", chunk), raw, pos) }
    for j = 1, chunk do log[got + j] = values[j] end
    pos = values[chunk + 1]
    got = got + chunk
  end
  return log, pos
end

local function decodeWithLogs(raw, LG)
  local all = { unpackAt(FIXED, raw) }
  local v = V
  for j = 1, NFIXED do v[j] = all[j] end
  local pos = all[NFIXED + 1]
  for i = 1, P do
    if POL[i].log then LG[i], pos = readLog(raw, pos) end
  end
  if pos ~= #raw + 1 then error("trailing bytes") end
  return v
end

-- The record as the flat table V (and LG for logs). One that does not parse (written by
-- something else under our key) reads as fresh and is overwritten, rather than failing every
-- decision batched with it.
local function readRecord(raw, LG)
  if not raw then return freshRecord(LG) end
  if not HASLOG then
    if #raw ~= FIXED_BYTES then return freshRecord(LG) end
    local v = V
    if NFIXED == 3 then
      v[1], v[2], v[3] = unpackAt(FIXED, raw)
    elseif NFIXED == 4 then
      v[1], v[2], v[3], v[4] = unpackAt(FIXED, raw)
    else
      local all = { unpackAt(FIXED, raw) }
      for j = 1, NFIXED do v[j] = all[j] end
    end
    return v
  end
  local ok, v = pcall(decodeWithLogs, raw, LG)
  if ok then return v end
  return freshRecord(LG)
end

local function encodeRecord(v, LG)
  if not HASLOG then
    if NFIXED == 3 then return pack(FIXED, v[1], v[2], v[3]) end
    if NFIXED == 4 then return pack(FIXED, v[1], v[2], v[3], v[4]) end
    return pack(FIXED, unpack(v, 1, NFIXED))
  end
  local fixed = pack(FIXED, unpack(v, 1, NFIXED))
  local parts = { fixed }
  for i = 1, P do
    if POL[i].log then
      local log = LG[i]
      local n = #log
      parts[#parts + 1] = pack("<I4", n)
      for from = 1, n, LOG_CHUNK do
        local to = min(n, from + LOG_CHUNK - 1)
        parts[#parts + 1] = pack("<" .. rep("d", to - from + 1), unpack(log, from, to))
      end
    end
  end
  return concat(parts)
end

-- Policy i's state as text "a,b,c" (for the local cache, which re-judges it in TypeScript).
local function stateText(i, v, LG)
  local p = POL[i]
  if p.log then return textState(LG[i]) end
  local parts = {}
  for j = 1, p.A.width do parts[j] = fmt(v[p.at + j - 1]) end
  return concat(parts, ",")
end
`;
