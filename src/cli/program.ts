import { createRequire } from "node:module";
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { runShow, runValidate } from "./config.js";
import { configErrorMessage } from "./config-file.js";
import { runDashboard } from "./dashboard.js";
import { CliError, type CliIo, EXIT } from "./io.js";
import { MANAGE_ACTIONS, runManage } from "./manage.js";
import { runMonitor } from "./monitor.js";
import { runStats } from "./stats.js";
import { runTest } from "./test-rule.js";

/** The package's version: dist/cli.js sits one folder below package.json (src/cli two). */
function version(): string {
  const require = createRequire(import.meta.url);
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      const pkg = require(path) as { name?: string; version?: string };
      if (pkg.name === "throttlekit" && typeof pkg.version === "string") return pkg.version;
    } catch {}
  }
  return "0.0.0";
}

function wholeNumber(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number.`);
    return Number(value);
  };
}

const EXIT_CODES_HELP = `
Exit codes:
  0  done (a check passed)
  1  invalid configuration, a failed check, or a store that cannot be reached
  2  usage: unknown command or option, bad or missing argument`;

/** --config, --redis: where state is read from. */
function storeOptions(cmd: Command): Command {
  return cmd
    .option(
      "-c, --config <file>",
      "config file (default: $THROTTLEKIT_CONFIG, ./throttlekit.yaml, ./ratethrottle.yaml)",
    )
    .option(
      "--redis <url>",
      "a live Redis (redis://[:password@]host:port[/db]); wins over the config's store",
    );
}

/**
 * The `throttlekit` program. `run` wraps it: commander's own exits become exit codes (usage →
 * 2), CliError and ConfigError become a message and their code, never a stack trace.
 */
export function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command("throttlekit")
    .description(
      "Test rules, manage allow/deny lists, read fleet metrics, monitor and serve the dashboard.",
    )
    .version(version(), "-v, --version")
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .addHelpText("after", EXIT_CODES_HELP);
  const command = (name: string) =>
    program
      .command(name)
      .configureOutput({ writeOut: io.out, writeErr: io.err })
      .showHelpAfterError("(add --help for usage)")
      .exitOverride();

  storeOptions(
    command("test")
      .description(
        "run requests of one client through a rule on simulated time and print each decision",
      )
      .requiredOption(
        "-r, --rule <name>",
        'the rule\'s name ("default" for the catch-all policies)',
      )
      .requiredOption("-i, --identifier <id>", "the client: an address or an identity key")
      .option("-n, --requests <n>", "how many requests", wholeNumber("--requests"), 100)
      .option("--interval <duration>", "simulated time between requests", "10ms")
      .option("-g, --group <group>", "the client's group (per-group policies)")
      .option("-q, --quiet", "print the summary only")
      .option("--json", "print the decisions and summary as JSON")
      .option(
        "--expect-allowed <n>",
        "exit 1 unless exactly n requests are allowed",
        wholeNumber("--expect-allowed"),
      )
      .option(
        "--expect-limited <n>",
        "exit 1 unless exactly n requests are refused",
        wholeNumber("--expect-limited"),
      ),
  ).action(async (opts) => setCode(await runTest(opts, io)));

  const config = command("config").description("check or print a config file");
  config
    .command("validate")
    .description("parse the config and build its limiter; print every problem (exit 1) or ok")
    .option(
      "-c, --config <file>",
      "config file (default: $THROTTLEKIT_CONFIG, ./throttlekit.yaml, ./ratethrottle.yaml)",
    )
    .option("--json", "print the result as JSON")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .action(async (opts) => setCode(await runValidate(opts, io)));
  config
    .command("show")
    .description("print the config as throttlekit reads it, secrets redacted")
    .option(
      "-c, --config <file>",
      "config file (default: $THROTTLEKIT_CONFIG, ./throttlekit.yaml, ./ratethrottle.yaml)",
    )
    .option("--json", "print JSON instead of YAML")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .action(async (opts) => setCode(await runShow(opts, io)));

  storeOptions(
    command("manage")
      .description(
        "edit the fleet's allow and deny lists in the shared store (servers pick changes up within their listsRefresh)",
      )
      .addArgument(new Argument("<list>", "which list").choices(["allow", "deny"]))
      .addArgument(new Argument("<action>", "what to do").choices([...MANAGE_ACTIONS]))
      .addArgument(
        new Argument("[value]", "an IP address, a CIDR or an identity key (optional for list)"),
      )
      .option(
        "-d, --duration <duration>",
        "add: how long the entry applies (30s, 15m, 1h, 7d); forever when omitted",
      )
      .option("--reason <text>", "add: why, shown by list and in the 403")
      .option("--prefix <prefix>", "the HTTP limiters' prefix (default: the config's, else tk)")
      .option("--json", "list: print JSON"),
  ).action(async (list, action, value, opts) =>
    setCode(await runManage(list, action, value, opts, io)),
  );

  storeOptions(
    command("stats")
      .description("fleet metrics recorded in the shared store: totals, per rule, top offenders")
      .option("-w, --window <duration>", "the span to sum, ending now (1s to 1d)", "1h")
      .option("-e, --export <file>", "also write the metrics to a .json or .csv file")
      .option("--top <n>", "offenders to print", wholeNumber("--top"), 10)
      .option(
        "--metrics-prefix <prefix>",
        "the metrics collectors' prefix (default: the config's metrics.prefix, else tk)",
      )
      .option("--json", "print the metrics as JSON"),
  ).action(async (opts) => setCode(await runStats(opts, io)));

  storeOptions(
    command("monitor")
      .description(
        "live view of the fleet: rates per rule, block rate, top offenders, recent violations (q quits)",
      )
      .option("--refresh <duration>", "time between refreshes", "1s")
      .option(
        "--rate-window <duration>",
        "rates are averaged over this many finished seconds",
        "10s",
      )
      .option("--count <n>", "stop after n refreshes", wholeNumber("--count"))
      .option("--plain", "one line per refresh, even on a terminal")
      .option(
        "--metrics-prefix <prefix>",
        "the metrics collectors' prefix (default: the config's metrics.prefix, else tk)",
      ),
  ).action(async (opts) => setCode(await runMonitor(opts, io)));

  storeOptions(
    command("dashboard")
      .description("serve the web dashboard (token required)")
      .option(
        "-p, --port <port>",
        "port to listen on (0: any free port)",
        wholeNumber("--port"),
        8080,
      )
      .option("--host <host>", "address to bind", "127.0.0.1")
      .addOption(
        new Option(
          "--token <token>",
          "access token (prefer $THROTTLEKIT_DASHBOARD_TOKEN: arguments show in ps)",
        ),
      )
      .option(
        "--prefix <prefix>",
        "the HTTP limiters' prefix, for lists (default: the config's, else tk)",
      )
      .option(
        "--metrics-prefix <prefix>",
        "the metrics collectors' prefix (default: the config's metrics.prefix, else tk)",
      ),
  ).action(async (opts) => setCode(await runDashboard(opts, io)));

  const withExitCodes = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.addHelpText("after", EXIT_CODES_HELP);
      withExitCodes(sub);
    }
  };
  withExitCodes(program);
  return program;
}

/** Runs the CLI on `argv` (without node and the script) and returns the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      const helpish = ["commander.helpDisplayed", "commander.version", "commander.help"];
      if (helpish.includes(error.code))
        return error.code === "commander.help" ? EXIT.usage : EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      io.err(`throttlekit: ${error.message}\n`);
      return error.exitCode;
    }
    const config = configErrorMessage(error);
    if (config !== undefined) {
      io.err(`${config}\n`);
      return EXIT.failed;
    }
    // Not a user error: a bug or an outage. The message, and the stack only when asked for.
    const e = error as Error;
    io.err(`throttlekit: ${e?.message ?? String(error)}\n`);
    if (io.env.THROTTLEKIT_DEBUG === "1" && e?.stack !== undefined) io.err(`${e.stack}\n`);
    return EXIT.failed;
  }
}
