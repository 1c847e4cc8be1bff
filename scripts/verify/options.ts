// Command line of `npm run verify`: parsed once into VerifyOptions (pure; no I/O), with the help text
// that documents every option. Bad usage throws UsageError naming the option and the fix.

/**
 * Tests only: a PEM file of roots that stand in for Amazon's when the IoT Core endpoint is a local stand-in
 * (scripts/verify/trust.ts reads it, refuses it without --broker-via and warns whenever it is used).
 */
export const TEST_IOT_ROOTS_ENV = "DIY_VERIFY_TEST_IOT_CORE_ROOTS";

/** Ports probed when no --port or --map narrows the scan: what a stray service on a Debian server would use. */
export const DEFAULT_SCAN_PORTS: readonly number[] = [
  21, 22, 23, 25, 53, 80, 110, 111, 143, 443, 465, 587, 631, 993, 995, 1883, 2222, 3000, 3306, 5432, 6379, 8080, 8443,
  8883, 9001, 9090, 27017,
];

/** Names of the checks, as printed; `--skip NAME` leaves one out. */
export const CHECK_NAMES = [
  "ports",
  "ssh",
  "http-redirect",
  "tls-443",
  "tls-8883",
  "mqtt-anonymous",
  "mqtt-wrong-ca",
  "web-page",
  "api-login-required",
  "devices",
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** What port 22 must do from where verify runs (only adminCidrs may reach it). */
export type SshExpectation = "open" | "closed" | "unknown";

export interface VerifyOptions {
  source: { kind: "stack"; stack: string } | { kind: "file"; path: string };
  /** Connect here instead of the address in the outputs; TLS still verifies the name from the outputs. */
  host?: string;
  /** Server port -> local port on `host` (forwarded ports). */
  portMap: ReadonlyMap<number, number>;
  /**
   * broker iot-core only: dial the endpoint here instead of its name (a tunnel, or a stand-in in tests); TLS still
   * verifies the endpoint's name from the outputs.
   */
  brokerVia?: { host: string; port: number };
  /** Ports to scan; undefined: the mapped ports when there is a map, else DEFAULT_SCAN_PORTS. */
  scanPorts?: readonly number[];
  ssh: SshExpectation;
  timeoutMs: number;
  skip: ReadonlySet<CheckName>;
}

export class UsageError extends Error {}

export const HELP = `Checks a running DIY Device Cloud deployment from this machine, one line per check.

Usage:
  npm run verify -- --stack NAME [options]     outputs read with the Pulumi CLI
  npm run verify -- --outputs FILE [options]   outputs from a file (pulumi stack output --json > FILE)

Checks (names as printed):
  ports               only 80, 443 and 8883 answer (22 see ssh); a concurrent scan of --port or the
                      default list: ${DEFAULT_SCAN_PORTS.join(",")}
                      broker iot-core (the outputs' broker): only 80 and 443; 8883 must not answer
  ssh                 port 22 as --ssh expects (the security group lets only adminCidrs reach it)
  http-redirect       http://HOST/ answers with a redirect to https://HOST/
  tls-443, tls-8883   the certificate chain verifies against the stack CA (caCertPem); with a domain,
                      443 against the public trust store (Let's Encrypt); the name matches; not expired.
                      broker iot-core: 8883 is AWS IoT Core's endpoint (brokerEndpoint), its chain
                      checked against Amazon Root CA 1 and 3 (infra/trust) for the endpoint's name
  mqtt-anonymous      the broker refuses a client without a certificate
  mqtt-wrong-ca       the broker refuses a certificate from a CA made for this run
                      (broker iot-core: both asked of the endpoint, not the server)
  web-page            GET / answers 200 with the page
  api-login-required  the API answers 401 without a login
  devices             each configured device is online, as the web app sees it (logs in with the web
                      password, only after tls-443 passed; reads GET /api/devices; logs out)

Options:
  --stack NAME        Pulumi stack (e.g. dev or org/prod); runs pulumi stack output in this repository
  --outputs FILE      JSON object of stack outputs; "[secret]" values count as absent
  --host ADDR         connect to ADDR instead of the outputs' address (e.g. 127.0.0.1 for ports
                      forwarded from a VM); TLS still verifies the name in the outputs
  --map PORT=LOCAL    reach server port PORT at LOCAL on the host (repeat per port, e.g.
                      --map 22=2222 --map 443=8443); with any --map the scan covers the mapped ports.
                      QEMU's user-mode forwarding accepts on the host side even when nothing
                      listens in the guest: forward only ports that should answer
  --broker-via HOST:PORT
                      broker iot-core: dial the endpoint at HOST:PORT instead of its name (e.g. a
                      tunnel); TLS still verifies the endpoint's name from the outputs
  --port LIST         ports to scan instead, e.g. 1-1024,1883,3000
  --ssh open|closed   open: this machine is in adminCidrs, 22 must answer with an SSH banner;
                      closed: it is not, 22 must not answer. Without it verify cannot know which
                      is right and reports what it sees as INFO
  --timeout MS        per connection attempt (default 3000)
  --skip NAME         leave a check out (repeatable); it prints as SKIP
  -h, --help          this text

Environment:
  DIY_WEB_PASSWORD    the web password when the outputs have none (you set webPassword yourself);
                      with --stack, verify otherwise asks pulumi for this one secret
  ${TEST_IOT_ROOTS_ENV}
                      TESTS ONLY, broker iot-core: a PEM file of roots that replace Amazon's for
                      the endpoint's chain, for a stand-in endpoint reached with --broker-via (refused
                      without it); verify warns on every run that uses it

Exit status: 0 every check passed, 1 a check failed, 2 bad usage or unreadable outputs.`;

function portNumber(what: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535)
    throw new UsageError(`${what}: "${text}" is not a port (1-65535)`);
  return Number(text);
}

/** "1-1024,1883" -> the ports, in order, without duplicates. */
export function parsePortList(text: string): number[] {
  const ports = new Set<number>();
  for (const part of text.split(",")) {
    const range = /^(\d+)-(\d+)$/.exec(part.trim());
    if (range) {
      const [from, to] = [portNumber("--port", range[1] ?? ""), portNumber("--port", range[2] ?? "")];
      if (from > to) throw new UsageError(`--port: range ${part} runs backwards; write ${to}-${from}`);
      for (let p = from; p <= to; p++) ports.add(p);
    } else ports.add(portNumber("--port", part.trim()));
  }
  return [...ports];
}

/** Parses the arguments after `npm run verify --`; returns "help" for -h/--help. */
export function parseVerifyArgs(argv: readonly string[]): VerifyOptions | "help" {
  let stack: string | undefined;
  let file: string | undefined;
  let host: string | undefined;
  let scanPorts: number[] | undefined;
  let brokerVia: VerifyOptions["brokerVia"];
  let ssh: SshExpectation = "unknown";
  let timeoutMs = 3000;
  const portMap = new Map<number, number>();
  const skip = new Set<CheckName>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} needs a value (see --help)`);
      return v;
    };
    switch (arg) {
      case "-h":
      case "--help":
        return "help";
      case "--stack":
        stack = value();
        if (!/^[A-Za-z0-9._/-]+$/.test(stack)) throw new UsageError(`--stack: "${stack}" is not a stack name`);
        break;
      case "--outputs":
        file = value();
        break;
      case "--host":
        host = value();
        break;
      case "--map": {
        const v = value();
        const m = /^(\d+)=(\d+)$/.exec(v);
        if (!m) throw new UsageError(`--map: "${v}" must be PORT=LOCAL, e.g. --map 443=8443`);
        portMap.set(portNumber("--map", m[1] ?? ""), portNumber("--map", m[2] ?? ""));
        break;
      }
      case "--broker-via": {
        const v = value();
        const m = /^(\[[^\]]+\]|[^:[\]]+):(\d+)$/.exec(v);
        if (!m) throw new UsageError(`--broker-via: "${v}" must be HOST:PORT, e.g. --broker-via 127.0.0.1:18883`);
        const h = m[1] ?? "";
        brokerVia = { host: h.startsWith("[") ? h.slice(1, -1) : h, port: portNumber("--broker-via", m[2] ?? "") };
        break;
      }
      case "--port":
        scanPorts = parsePortList(value());
        break;
      case "--ssh": {
        const v = value();
        if (v !== "open" && v !== "closed") throw new UsageError(`--ssh: "${v}" must be open or closed`);
        ssh = v;
        break;
      }
      case "--timeout": {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 100 || Number(v) > 120_000)
          throw new UsageError(`--timeout: "${v}" must be milliseconds between 100 and 120000`);
        timeoutMs = Number(v);
        break;
      }
      case "--skip": {
        const v = value();
        if (!(CHECK_NAMES as readonly string[]).includes(v))
          throw new UsageError(`--skip: no check "${v}"; checks are ${CHECK_NAMES.join(", ")}`);
        skip.add(v as CheckName);
        break;
      }
      default:
        throw new UsageError(`unknown argument "${arg}" (see --help)`);
    }
  }
  if (stack !== undefined && file !== undefined) throw new UsageError("give --stack NAME or --outputs FILE, not both");
  if (stack === undefined && file === undefined)
    throw new UsageError("say which deployment: --stack NAME (with the Pulumi CLI) or --outputs FILE");
  if (portMap.size > 0 && host === undefined)
    throw new UsageError("--map needs --host (the address the forwarded ports listen on, e.g. --host 127.0.0.1)");
  return {
    source: stack !== undefined ? { kind: "stack", stack } : { kind: "file", path: file ?? "" },
    host,
    portMap,
    ...(brokerVia ? { brokerVia } : {}),
    scanPorts,
    ssh,
    timeoutMs,
    skip,
  };
}

/** The ports the scan probes, as server port numbers. */
export function portsToScan(opts: Pick<VerifyOptions, "portMap" | "scanPorts">): number[] {
  if (opts.scanPorts) return [...opts.scanPorts];
  if (opts.portMap.size > 0) return [...opts.portMap.keys()].sort((a, b) => a - b);
  return [...DEFAULT_SCAN_PORTS];
}
