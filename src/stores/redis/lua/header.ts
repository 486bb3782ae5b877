/**
 * The script's arguments (the layout is in decide.ts) and `judge`, the rule every algorithm
 * shares (src/core/algorithms/step.ts): a cost above the policy's capacity can never pass.
 */
export const LUA_HEADER = `
-- Redis < 5 replicates scripts verbatim unless told otherwise, and TIME is not deterministic.
if redis.replicate_commands then redis.replicate_commands() end

local P = tonumber(ARGV[1])
local wantState = ARGV[2] == "1"
local slack = tonumber(ARGV[3])
local POL, VER = {}, {}
for i = 1, P do
  local o = 3 + (i - 1) * 7
  POL[i] = {
    A = ALG[ARGV[o + 1]],
    limit = tonumber(ARGV[o + 2]),
    windowMs = tonumber(ARGV[o + 3]),
    burst = tonumber(ARGV[o + 4]),
    blockForMs = tonumber(ARGV[o + 5]),
    mode = ARGV[o + 6],
    maxDelayMs = tonumber(ARGV[o + 7]),
  }
  POL[i].capacity = POL[i].burst * POL[i].windowMs
  VER[i] = { allowed = true, remaining = 0, reset = 0, retry = 0, delay = 0 }
end
local FIRST = 3 + P * 7
-- Whether an allowed verdict is always a plain one (no leaky-bucket delay mode).
local NO_DELAY = true
for i = 1, P do
  if POL[i].mode == "delay" then NO_DELAY = false end
end

local function judge(p, s, at, now, cost, out)
  if cost > p.burst then
    p.A.evaluate(s, at, now, 0, p, out)
    out.allowed = false
    out.retry = huge
    out.delay = 0
    return
  end
  p.A.evaluate(s, at, now, cost, p, out)
end
`;
