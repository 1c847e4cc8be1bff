// The stack outputs verify needs (infra/index.ts exports them), read from `pulumi stack output --json`
// text, and the target they describe. Pure: no I/O.
import { isIP } from "node:net";
import { z } from "zod";
import { BROKER_KINDS, type BrokerKind } from "../../protocol";
import { UsageError, type VerifyOptions } from "./options";

/**
 * What `pulumi stack output --json` prints for a secret without --show-secrets (pulumi/pulumi
 * pkg/cmd/pulumi/stack/stack_output.go: display.MassageSecrets replaces each secret by this string).
 */
export const MASKED_SECRET = "[secret]";

const Outputs = z.object({
  webUrl: z.string().url(),
  brokerEndpoint: z.string().min(1),
  caCertPem: z.string().includes("BEGIN CERTIFICATE"),
  webPassword: z.string().optional(),
  /** Absent in the outputs of a stack last deployed before infra/index.ts exported it (see brokerOf). */
  broker: z.enum(BROKER_KINDS as [BrokerKind, ...BrokerKind[]]).optional(),
});

export class OutputsError extends Error {}

/** Where and what to check, with every address resolved. */
export interface Target {
  /** The name the web server's certificate must carry (domain or Elastic IP). */
  webName: string;
  /** True with a domain: nginx serves a Let's Encrypt certificate, checked against the public trust store. */
  webHasDomain: boolean;
  /** The name the broker's certificate must carry. */
  brokerName: string;
  /** The address every connection goes to (the outputs' host, or --host). */
  connectHost: string;
  /** Server port -> the port actually dialled on connectHost. */
  port: (serverPort: number) => number;
  brokerPort: number;
  /** mosquitto: on the server (its 8883 is public). iot-core: AWS IoT Core's endpoint; the server has no 8883. */
  broker: BrokerKind;
  /** Where the broker's connections go: the server's (forwarded) 8883, or the endpoint (or --broker-via). */
  brokerDial: { host: string; port: number };
  caCertPem: string;
  /** Present when the outputs carry it (generated password, shown with --show-secrets). */
  webPassword?: string;
}

function hostOf(name: string): string {
  return name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
}

/** Parses outputs JSON; `source` names where it came from in errors. */
export function parseOutputs(text: string, source: string): z.infer<typeof Outputs> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OutputsError(
      `${source} is not JSON (${(err as Error).message}); it must be what pulumi stack output --json prints`,
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new OutputsError(`${source} must be a JSON object of stack outputs (pulumi stack output --json)`);
  const raw = { ...(json as Record<string, unknown>) };
  // A masked secret is no value at all: never try "[secret]" as a password.
  for (const [k, v] of Object.entries(raw)) if (v === MASKED_SECRET) delete raw[k];
  const parsed = Outputs.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => {
        const key = String(i.path[0] ?? "(root)");
        return `${key}: ${raw[key] === undefined ? "missing" : i.message}`;
      })
      .join("; ");
    throw new OutputsError(
      `${source} lacks what verify needs (${problems}); is the stack deployed? (pulumi stack output --json)`,
    );
  }
  return parsed.data;
}

/** AWS IoT Core's data endpoints are names under amazonaws.com (amazonaws.com.cn in China). */
const AWS_NAME = /\.amazonaws\.com(\.cn)?$/i;

/**
 * The broker the outputs say. A stack deployed before the `broker` output has none: every such stack on mosquitto
 * names its own server as brokerEndpoint; one on iot-core names AWS, and then guessing would check the wrong thing.
 */
function brokerOf(outputs: z.infer<typeof Outputs>, brokerName: string): BrokerKind {
  if (outputs.broker) return outputs.broker;
  if (AWS_NAME.test(brokerName))
    throw new OutputsError(
      `the outputs name no broker, and brokerEndpoint (${brokerName}) is AWS IoT Core's: run pulumi up once so the stack exports broker, then verify again`,
    );
  return "mosquitto";
}

/** Resolves the outputs and the command line's overrides into one Target. */
export function targetFromOutputs(
  outputs: z.infer<typeof Outputs>,
  opts: Pick<VerifyOptions, "host" | "portMap" | "brokerVia">,
): Target {
  const url = new URL(outputs.webUrl);
  if (url.protocol !== "https:") throw new OutputsError(`webUrl must be an https:// URL, got ${outputs.webUrl}`);
  if (url.port !== "" && url.port !== "443")
    throw new OutputsError(
      `webUrl ${outputs.webUrl} names port ${url.port}; the stack serves 443 (use --map to reach another)`,
    );
  const webName = hostOf(url.hostname);
  const broker = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(outputs.brokerEndpoint);
  if (!broker) throw new OutputsError(`brokerEndpoint must be HOST:PORT, got ${outputs.brokerEndpoint}`);
  const brokerName = hostOf(broker[1] ?? "");
  const brokerPort = Number(broker[2]);
  const kind = brokerOf(outputs, brokerName);
  if (kind === "mosquitto" && opts.brokerVia)
    throw new UsageError(
      "--broker-via is for broker iot-core, whose endpoint is not the server; this stack runs mosquitto on the server: reach its 8883 with --host and --map 8883=PORT",
    );
  // mosquitto runs on the server, so both names are the server's; AWS IoT Core's endpoint is a host of its own.
  if (kind === "mosquitto" && !opts.host && brokerName !== webName)
    throw new OutputsError(
      `webUrl (${webName}) and brokerEndpoint (${brokerName}) name different hosts; verify checks one server: pass --host ADDR`,
    );
  const connectHost = opts.host ?? webName;
  const port = (p: number) => opts.portMap.get(p) ?? p;
  return {
    webName,
    webHasDomain: isIP(webName) === 0,
    brokerName,
    connectHost,
    port,
    brokerPort,
    broker: kind,
    brokerDial:
      kind === "mosquitto"
        ? { host: connectHost, port: port(brokerPort) }
        : (opts.brokerVia ?? { host: brokerName, port: brokerPort }),
    caCertPem: outputs.caCertPem,
    ...(outputs.webPassword ? { webPassword: outputs.webPassword } : {}),
  };
}
