import { PAGE_SCRIPT } from "./page-script.js";

/**
 * The dashboard's two pages (the dashboard and the login form), built here: inline CSS and
 * script under a per-response CSP nonce, no external asset, no CDN.
 */

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f6f8fa;--fg:#1f2328;--card:#fff;--line:#d0d7de;--muted:#656d76;
--ok:#2e9d5b;--warn:#e0a100;--bad:#d9473b;--deny:#8a4fd6;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--card:#161b22;--line:#30363d;--muted:#8b949e;--accent:#4493f8}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:12px;padding:10px 20px;border-bottom:1px solid var(--line);background:var(--card)}
header h1{font-size:16px;margin:0}header .grow{flex:1}
main{padding:16px 20px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));max-width:1600px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:14px;margin:0 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(110px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px}.card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:12px}
.card.allowed b{color:var(--ok)}.card.limited b{color:var(--warn)}.card.blocked b{color:var(--bad)}.card.denied b{color:var(--deny)}
canvas{width:100%;display:block}#chart{height:160px;margin-top:12px}.spark{height:56px;margin-top:6px}
.rule{border-top:1px solid var(--line);padding:8px 0}.rule:first-child{border-top:0}
.rule-head{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}.nums{display:flex;gap:10px;font-variant-numeric:tabular-nums}
.n.allowed{color:var(--ok)}.n.limited{color:var(--warn)}.n.blocked{color:var(--bad)}.n.denied{color:var(--deny)}.n.degraded{color:var(--muted)}
table{width:100%;border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{color:var(--muted);font-weight:600}.muted{color:var(--muted)}
.banner{padding:6px 10px;border-radius:6px;margin-bottom:6px}.banner.ok{background:rgba(46,157,91,.12)}
.banner.warn{background:rgba(224,161,0,.16)}.banner.bad{background:rgba(217,71,59,.16);font-weight:600}
.pill{font-size:12px;padding:2px 8px;border-radius:10px;border:1px solid var(--line)}.pill.ok{color:var(--ok)}.pill.warn{color:var(--warn)}
.tag{font-size:12px;padding:1px 6px;border-radius:4px;color:#fff}.tag.deny{background:var(--bad)}.tag.allow{background:var(--ok)}
form.row{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:10px}input,select,button{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
input{min-width:0}#list-value{flex:2 1 180px}#list-for{flex:0 1 90px}#list-reason{flex:1 1 140px}
button{cursor:pointer;background:var(--accent);color:#fff;border-color:var(--accent)}button.small{padding:2px 8px;font-size:12px;background:transparent;color:var(--bad);border-color:var(--bad)}
button.plain{background:transparent;color:var(--fg);border-color:var(--line)}
pre{margin:0;max-height:420px;overflow:auto;font-size:12px;background:var(--bg);padding:10px;border-radius:6px}
.legend{display:flex;gap:12px;font-size:12px;color:var(--muted);margin-top:6px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.legend .allowed{background:var(--ok)}.legend .limited{background:var(--warn)}.legend .blocked{background:var(--bad)}.legend .denied{background:var(--deny)}.legend .degraded{background:var(--muted)}
.scroll{max-height:340px;overflow:auto}
#list-msg{min-height:1.4em;color:var(--muted);margin:0 0 6px}
.login{max-width:360px;margin:12vh auto;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:20px}
.login input{width:100%;margin:8px 0}.login .error{color:var(--bad)}
`;

const CARDS = [
  ["requests", "requests"],
  ["allowed", "allowed"],
  ["limited", "limited"],
  ["blocked", "blocked"],
  ["denied", "denied"],
  ["degraded", "degraded"],
  ["rate", "block rate"],
  ["rps", "req/s (last second)"],
]
  .map(([id, label]) => `<div class="card ${id}"><b id="c-${id}">0</b><span>${label}</span></div>`)
  .join("");

const LEGEND = ["allowed", "limited", "blocked", "denied", "degraded"]
  .map((o) => `<span><i class="${o}"></i>${o}</span>`)
  .join("");

function head(title: string, nonce: string, extra = ""): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="same-origin">${extra}<title>${title}</title><style nonce="${nonce}">${STYLE}</style></head>`;
}

/** The dashboard itself; `csrf` is the session's CSRF token, read by the script. */
export function dashboardPage(input: { nonce: string; basePath: string; csrf: string }): string {
  const meta = `<meta name="tk-base" content="${escapeHtml(input.basePath)}"><meta name="tk-csrf" content="${escapeHtml(input.csrf)}">`;
  return `${head("throttlekit dashboard", input.nonce, meta)}<body>
<header><h1>throttlekit</h1><span class="pill" id="conn">connecting</span><span class="muted grow" id="updated"></span><button class="plain" id="logout" type="button">Sign out</button></header>
<main>
<section class="wide"><div id="status"></div><h2>Fleet, last <span id="window">60 s</span></h2><div class="cards">${CARDS}</div><canvas id="chart"></canvas><div class="legend">${LEGEND}</div></section>
<section><h2>Rules</h2><div id="rules"></div></section>
<section><h2>Top offenders</h2><div class="scroll"><table id="offenders"></table></div></section>
<section><h2>Recent violations <span class="muted">(this process)</span></h2><div class="scroll"><table id="violations"></table></div></section>
<section><h2>Allow and deny lists</h2><p id="lists-off" class="muted" hidden>This store keeps no lists: each HTTP limiter keeps its own, per process.</p>
<form id="list-form" class="row" autocomplete="off"><select id="list-kind" aria-label="list"><option value="deny">deny</option><option value="allow">allow</option></select><input id="list-value" required maxlength="256" placeholder="IP, CIDR or key (user:42)" aria-label="value"><input id="list-for" placeholder="for (1h)" aria-label="expires after"><input id="list-reason" maxlength="200" placeholder="reason" aria-label="reason"><button id="list-add" type="submit">Add</button></form>
<p id="list-msg" role="status"></p><div class="scroll"><table id="entries"></table></div></section>
<section class="wide"><h2>Running config <span class="muted">(secrets redacted)</span></h2><pre id="config">…</pre></section>
</main><script nonce="${input.nonce}">${PAGE_SCRIPT}</script></body></html>`;
}

/** The login form; posts the token once, the answer sets the session cookie. */
export function loginPage(input: { nonce: string; basePath: string; error?: string }): string {
  const error =
    input.error === undefined ? "" : `<p class="error" role="alert">${escapeHtml(input.error)}</p>`;
  return `${head("throttlekit dashboard: sign in", input.nonce)}<body><form class="login" method="post" action="${escapeHtml(input.basePath)}/login"><h1>throttlekit dashboard</h1>${error}<label for="token">Access token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus><button type="submit">Sign in</button></form></body></html>`;
}
