// Reads Vitest's JSON report and prints "N passed, N failed" (CI reads that line, not Vitest's
// own summary). Extra failed checks from .ci/run are added to the failed count. A skipped or
// todo test fails the run: nothing may be skipped silently in CI.
import { existsSync, readFileSync } from "node:fs";

const [file, extraFailed = "0"] = process.argv.slice(2);
let passed = 0;
let failed = Number(extraFailed);
let skipped = 0;
if (file && existsSync(file)) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  for (const suite of report.testResults ?? []) {
    // A file that failed to load has no assertions but is a failure.
    if (suite.status === "failed" && (suite.assertionResults ?? []).length === 0) failed++;
    for (const t of suite.assertionResults ?? []) {
      if (t.status === "passed") passed++;
      else if (t.status === "failed") failed++;
      else skipped++;
    }
  }
} else {
  console.error(`no test report at ${file}`);
  failed++;
}
if (skipped > 0) console.error(`${skipped} test(s) skipped or todo: CI does not allow skips`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || skipped > 0 || passed === 0 ? 1 : 0);
