/**
 * The script's arguments (the layout is in decide.ts), the deadline check, and `judge`, the rule
 * every algorithm shares (src/core/algorithms/step.ts): a cost above the policy's capacity can
 * never pass.
 *
 * The deadline (issue 13, item 8): a call the caller has given up on (its timeout passed, the
 * decision was answered per onStoreError) must not act when Redis gets to it later, e.g. after a
 * stall. The caller sends the latest server time at which it still waits for the answer
 * (runner.ts); a script that starts later does nothing and answers -1 and the server time. A
 * deadline of 0 is a clock probe: it always answers so.
 */
export const LUA_HEADER = `
-- Redis < 5 replicates scripts verbatim unless told otherwise, and TIME is not deterministic.
if redis.replicate_commands then redis.replicate_commands() end

-- Read once per run, before anything else: the deadline check, the time of server-time
-- decisions, and the reply's first element (the caller's clock-offset sample).
local serverNow
do
  local t = redis.call("TIME")
  serverNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if serverNow > tonumber(ARGV[1]) then return { -1, serverNow } end

local P = tonumber(ARGV[2])
local wantState = ARGV[3] == "1"
local slack = tonumber(ARGV[4])
local POL, VER = {}, {}
for i = 1, P do
  local o = 4 + (i - 1) * 7
  POL[i] = {
    A = ALG[ARGV[o + 1]],
    limit = tonumber(ARGV[o + 2]),
    windowMs = tonumber(ARGV[o + 3]),
    burst = tonumber(ARGV[o + 4]),
    mode = ARGV[o + 6],
    maxDelayMs = tonumber(ARGV[o + 7]),
  }
  -- blockFor: "<ms>", or "<base>:<factor>:<maxMs>:<forgetAfterMs>" when it escalates.
  local b, f, m, g = string.match(ARGV[o + 5], "^([^:]*):([^:]*):([^:]*):(.*)$")
  if b then
    POL[i].blockForMs = tonumber(b)
    POL[i].factor = tonumber(f)
    POL[i].maxMs = tonumber(m)
    POL[i].forgetMs = tonumber(g)
  else
    POL[i].blockForMs = tonumber(ARGV[o + 5])
  end
  POL[i].capacity = POL[i].burst * POL[i].windowMs
  VER[i] = { allowed = true, remaining = 0, reset = 0, retry = 0, delay = 0 }
end
local FIRST = 4 + P * 7
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
