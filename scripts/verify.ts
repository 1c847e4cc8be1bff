// `npm run verify -- --stack NAME` (or --outputs FILE): checks a running deployment from this machine and
// prints one line per check; exit 1 when any check fails, 2 on bad usage or unreadable outputs.
// The checks: scripts/verify/run.ts; their rules: scripts/verify/verdicts.ts; --help: scripts/verify/options.ts.
import { HELP, parseVerifyArgs, UsageError } from "./verify/options";
import { OutputsError, parseOutputs, targetFromOutputs } from "./verify/outputs";
import { exitCode, formatResult, summary } from "./verify/report";
import { runChecks } from "./verify/run";
import { brokerTrust } from "./verify/trust";
import { PASSWORD_ENV, readOutputsFile, readOutputsFromStack, webPasswordFromStack } from "./verify/sources";

async function main(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  try {
    const opts = parseVerifyArgs(argv);
    if (opts === "help") {
      out(HELP);
      return 0;
    }
    const source = opts.source;
    const text = source.kind === "file" ? readOutputsFile(source.path, err) : readOutputsFromStack(source.stack);
    const target = targetFromOutputs(
      parseOutputs(text, source.kind === "file" ? source.path : `the outputs of stack ${source.stack}`),
      opts,
    );
    const trust = brokerTrust(target, opts, process.env);
    if (trust.warning) err(`verify: ${trust.warning}`);
    const dial = target.brokerDial;
    out(
      `verify: ${target.webName}${opts.host ? ` via ${opts.host}${opts.portMap.size ? ` (${[...opts.portMap].map(([p, l]) => `${p}->${l}`).join(", ")})` : ""}` : ""}${
        target.broker === "iot-core"
          ? `; broker AWS IoT Core ${target.brokerName}:${target.brokerPort}${opts.brokerVia ? ` via ${dial.host}:${dial.port}` : ""}`
          : ""
      }`,
    );
    const results = await runChecks(target, opts, {
      now: () => new Date(),
      brokerTrust: trust,
      // Never from argv (other users see it in ps): the environment, the outputs, or pulumi on demand.
      webPassword: async () =>
        process.env[PASSWORD_ENV] ||
        target.webPassword ||
        (source.kind === "stack" ? webPasswordFromStack(source.stack) : undefined),
    });
    for (const r of results) out(formatResult(r));
    out(summary(results));
    return exitCode(results);
  } catch (e) {
    if (e instanceof UsageError || e instanceof OutputsError) {
      err(`verify: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module)
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      process.stderr.write(`verify: ${e.stack ?? e.message}\n`);
      process.exitCode = 2;
    },
  );
