/**
 * The stored record: one Redis string per limiter and user key, holding the block and every
 * policy's state, so a decision reads one key and writes one key however many policies it has.
 *
 * In memory the record is a flat table V, like the memory store's rows: V[1] is the block's end
 * (0: none) and policy i's row starts at V[POL[i].at]. A log policy keeps its own table LG[i].
 * An escalating policy's last block and the time it is forgotten follow the rows, at
 * V[POL[i].esc] and V[POL[i].esc + 1] (issue 17 item 5): kept in the record, the history costs
 * no extra key, read or write, shares the key's hash tag, and the record's PX covers it.
 * Stored as little-endian IEEE doubles (exact, packed and unpacked in C without formatting):
 *
 *   V[1..NFIXED] | per log policy: a uint32 count, then that many numbers (time, cost, ...)
 *
 * An absent key is the fresh record: no block, rows of zeros, empty logs.
 */
/** Records of up to this many numbers are read and written without a temporary table. */
const SPECIALISED_WIDTHS = 16;

function list(n: number, item: (j: number) => string): string {
  return Array.from({ length: n }, (_, i) => item(i + 1)).join(", ");
}

/**
 * readFixed(raw, v) and packFixed(v) for the record's fixed part, chosen once per script run by
 * its width: \`v[1], v[2], v[3] = unpackAt(FIXED, raw)\` rather than a table of unpacked values per
 * decision (garbage Redis's Lua must collect, on the script's hottest line).
 */
const FIXED_CODECS = (() => {
  const readers: string[] = [];
  const packers: string[] = [];
  for (let n = 1; n <= SPECIALISED_WIDTHS; n++) {
    const cond = `${n === 1 ? "if" : "elseif"} NFIXED == ${n} then`;
    readers.push(
      `${cond}\n  readFixed = function(raw, v) ${list(n, (j) => `v[${j}]`)} = unpackAt(FIXED, raw) return v end`,
    );
    packers.push(
      `${cond}\n  packFixed = function(v) return pack(FIXED, ${list(n, (j) => `v[${j}]`)}) end`,
    );
  }
  return `local readFixed, packFixed
${readers.join("\n")}
else
  readFixed = function(raw, v)
    local all = { unpackAt(FIXED, raw) }
    for j = 1, NFIXED do v[j] = all[j] end
    return v
  end
end
${packers.join("\n")}
else
  packFixed = function(v) return pack(FIXED, unpack(v, 1, NFIXED)) end
end
`;
})();

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
-- An escalating policy remembers its last block after the rows: its length (unrounded) at
-- p.esc and when it is forgotten at p.esc + 1 (src/core/memory/escalations.ts).
local ESC = false
for i = 1, P do
  local p = POL[i]
  if p.factor then
    p.esc = NFIXED + 1
    FIXED = FIXED .. "dd"
    NFIXED = NFIXED + 2
    ESC = true
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

${FIXED_CODECS}
-- The record as the flat table V (and LG for logs). One that does not parse (written by
-- something else under our key) reads as fresh and is overwritten, rather than failing every
-- decision batched with it.
local function readRecord(raw, LG)
  if not raw then return freshRecord(LG) end
  if not HASLOG then
    if #raw ~= FIXED_BYTES then return freshRecord(LG) end
    return readFixed(raw, V)
  end
  local ok, v = pcall(decodeWithLogs, raw, LG)
  if ok then return v end
  return freshRecord(LG)
end

local function encodeRecord(v, LG)
  if not HASLOG then return packFixed(v) end
  local fixed = packFixed(v)
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
