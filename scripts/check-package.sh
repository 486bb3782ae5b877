#!/usr/bin/env bash
# Checks the tarball users install: publint and @arethetypeswrong/cli on it, then installs it
# into a scratch project and imports every subpath in package.json "exports" from ESM and CJS.
# The scratch project sits inside the repo so optional peers (ioredis, @nestjs/*...) resolve
# from the repo's node_modules, as they would from a user's.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .tmp/pack && mkdir -p .tmp/pack/app
tarball=$(npm pack --silent --pack-destination .tmp/pack | tail -n 1)
tarball=".tmp/pack/$tarball"
npx publint "$tarball" --strict
# node10 resolution cannot see subpath exports; throttlekit requires Node ≥ 20.
npx attw "$tarball" --profile node16
cd .tmp/pack/app
echo '{"name":"smoke","private":true}' > package.json
npm install --no-audit --no-fund --no-save --ignore-scripts "../$(basename "$tarball")" >/dev/null
node - <<'JS'
const { readFileSync } = require("node:fs");
const pkg = JSON.parse(readFileSync("node_modules/throttlekit/package.json", "utf8"));
const subpaths = Object.keys(pkg.exports).filter((s) => s !== "./package.json");
(async () => {
  for (const sub of subpaths) {
    const id = sub === "." ? "throttlekit" : `throttlekit/${sub.slice(2)}`;
    const cjs = require(id);
    const esm = await import(id);
    const names = Object.keys(esm).filter((k) => k !== "default");
    if (names.length === 0) throw new Error(`${id}: ESM build exports nothing`);
    for (const k of names) if (!(k in cjs)) throw new Error(`${id}: CJS build lacks ${k}`);
    console.log(`ok ${id} (${names.length} exports, ESM and CJS)`);
  }
  const { createLimiter } = require("throttlekit");
  const d = createLimiter({ policies: "1/s" }).consumeSync("smoke");
  if (!d.allowed) throw new Error("CJS build does not admit a first request");
})().catch((e) => { console.error(e); process.exit(1); });
JS
# The binary as a user runs it from the installed tarball (issue 18: `npx throttlekit --help`).
npx --no-install throttlekit --help >/dev/null
echo "ok npx throttlekit --help"
