// Runs every check against one Target and returns one result per line, in a fixed order. Independent
// checks run at once; the device check waits for tls-443, because the web password goes only to a
// server that proved it is the stack's. The broker checks (tls-8883, mqtt-*) go where the broker is:
// the server's 8883 with mosquitto, AWS IoT Core's endpoint with iot-core (target.brokerDial).
import { randomBytes } from "node:crypto";
import { createCa, issueCert } from "../../infra/render/x509";
import { SSH_PORT } from "../../policy/network";
import { type CheckName, portsToScan, type VerifyOptions } from "./options";
import type { Target } from "./outputs";
import { httpGet, httpsCall, mqttAttempt, observeTls, probePort, scanPorts, tlsFor, webDevices } from "./probes";
import type { BrokerTrust } from "./trust";
import {
  apiVerdict,
  type CheckResult,
  deviceVerdicts,
  mqttRefusalVerdict,
  portsVerdict,
  redirectVerdict,
  sshBanner,
  sshVerdict,
  tlsVerdict,
  webPageVerdict,
} from "./verdicts";

export interface RunDeps {
  now: () => Date;
  /** Asked only when the device check runs and tls-443 passed. */
  webPassword: () => Promise<string | undefined>;
  /** The roots the broker's chain must verify against (scripts/verify/trust.ts brokerTrust). */
  brokerTrust: BrokerTrust;
}

/** Sent with the refused API requests: no such device exists, and the answer must be 401 before any lookup. */
const PROBE_PATH = "/api/devices/verify-probe/outputs/led";

const HTTP = 80;
const HTTPS = 443;

export async function runChecks(
  target: Target,
  opts: Pick<VerifyOptions, "portMap" | "scanPorts" | "ssh" | "timeoutMs" | "skip">,
  deps: RunDeps,
): Promise<CheckResult[]> {
  const host = target.connectHost;
  const t = opts.timeoutMs;
  const skipped = (name: CheckName): CheckResult => ({ status: "SKIP", name, detail: "left out (--skip)" });
  // A probe that throws is a failed check with its reason, never a crashed command.
  const unless = async (name: CheckName, check: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> => {
    if (opts.skip.has(name)) return [skipped(name)];
    try {
      return ([] as CheckResult[]).concat(await check());
    } catch (err) {
      return [{ status: "FAIL", name, detail: `could not run: ${(err as Error).message}` }];
    }
  };
  const webTrust = target.webHasDomain ? "the public trust store (Let's Encrypt)" : "the stack CA (caCertPem)";
  const webCa = target.webHasDomain ? undefined : target.caCertPem;
  const path = `/verify-${randomBytes(4).toString("hex")}?from=verify`;

  const ports = unless("ports", async () =>
    portsVerdict(await scanPorts(host, portsToScan(opts), target.port, t), target.broker),
  );
  const broker = target.brokerDial;
  const trust = deps.brokerTrust;
  const ssh = unless("ssh", async () => {
    if (opts.portMap.size > 0 && !opts.portMap.has(SSH_PORT))
      return {
        status: "SKIP",
        name: "ssh",
        detail: "22 is not forwarded: add --map 22=PORT to check it",
      } as CheckResult;
    const seen = await probePort(host, target.port(SSH_PORT), t, true);
    return sshVerdict(opts.ssh, seen.state, seen.banner === undefined ? undefined : sshBanner(seen.banner));
  });
  const redirect = unless("http-redirect", async () =>
    redirectVerdict(await httpGet(host, target.port(HTTP), target.webName, path, t), target.webName, path),
  );
  const tls443 = unless("tls-443", async () =>
    tlsVerdict(
      "tls-443",
      target.webName,
      webTrust,
      await observeTls(host, target.port(HTTPS), target.webName, webCa, t),
      deps.now(),
    ),
  );
  // No client certificate is sent: under TLS 1.3 the client holds the server's chain before the broker asks for
  // one. mosquitto speaks 1.3; so does AWS IoT Core under its default security policy IoTSecurityPolicy_TLS13_1_2_2022_10
  // (developer guide, "Transport security in AWS IoT Core"); an endpoint held to a TLS 1.2 policy that ends the
  // handshake without a client certificate would read here as "no TLS handshake".
  const tls8883 = unless("tls-8883", async () =>
    tlsVerdict(
      "tls-8883",
      target.brokerName,
      trust.label,
      await observeTls(broker.host, broker.port, target.brokerName, trust.pem, t),
      deps.now(),
    ),
  );
  // Refusal probes send nothing worth protecting, so they do not insist on the server's chain: a broken
  // chain must not hide a broker that accepts anyone (tls-8883 reports the chain). The endpoint's name goes
  // in SNI (tlsFor): AWS IoT Core wants it ("Diagnosing connectivity issues": the SNI is the endpoint address).
  const probeTls = { ...tlsFor(target.brokerName, trust.pem), rejectUnauthorized: false };
  const anonymous = unless("mqtt-anonymous", async () =>
    mqttRefusalVerdict(
      "mqtt-anonymous",
      "a client without a certificate",
      await mqttAttempt(broker.host, broker.port, probeTls, `verify-anon-${randomBytes(3).toString("hex")}`, t),
    ),
  );
  const wrongCa = unless("mqtt-wrong-ca", async () => {
    // A CA made for this run only: no broker can have a reason to trust it. AWS IoT Core admits only certificates
    // registered with it and active ("X.509 client certificates", x509-client-certs.html), and this one never was.
    const rogueCa = await createCa({ commonName: "verify throwaway CA", days: 1 });
    const rogue = await issueCert(rogueCa, { commonName: "verify-rogue", kind: "client", days: 1 });
    return mqttRefusalVerdict(
      "mqtt-wrong-ca",
      "a certificate from a CA made for this run",
      await mqttAttempt(
        broker.host,
        broker.port,
        { ...probeTls, cert: rogue.certPem, key: rogue.keyPem },
        "verify-rogue",
        t,
      ),
    );
  });
  const https = (req: Parameters<typeof httpsCall>[4]) =>
    httpsCall(host, target.port(HTTPS), target.webName, webCa, req, t);
  const page = unless("web-page", async () => {
    try {
      const r = await https({ path: "/" });
      return webPageVerdict({ status: r.status, contentType: r.headers["content-type"], body: r.body });
    } catch (err) {
      return webPageVerdict({ error: (err as Error).message });
    }
  });
  const api = unless("api-login-required", async () => {
    const asks = [
      { request: "GET /api/devices", req: { path: "/api/devices" } },
      { request: "GET /api/events", req: { path: "/api/events" } },
      { request: `POST ${PROBE_PATH}`, req: { method: "POST", path: PROBE_PATH, body: '{"value":"on"}' } },
    ];
    return apiVerdict(
      await Promise.all(
        asks.map(async (a) => ({
          request: a.request,
          status: await https(a.req).then(
            (r) => r.status,
            (err: Error) => err.message,
          ),
        })),
      ),
    );
  });
  const devices = unless("devices", async () => {
    const tls = (await tls443).find((r) => r.name === "tls-443");
    if (tls?.status !== "PASS")
      return deviceVerdicts({
        error: `not checked: tls-443 did not pass, and the web password goes only to a server that proved it is the stack's`,
      });
    const password = await deps.webPassword();
    if (!password)
      return deviceVerdicts({
        error:
          "no web password: the outputs have none (you set webPassword yourself); export DIY_WEB_PASSWORD, or --skip devices",
      });
    return deviceVerdicts(await webDevices(host, target.port(HTTPS), target.webName, webCa, password, t));
  });
  const groups = await Promise.all([ports, ssh, redirect, tls443, tls8883, anonymous, wrongCa, page, api, devices]);
  return groups.flat();
}
