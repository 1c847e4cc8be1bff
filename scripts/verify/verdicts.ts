// The verdict of each check from what the probes saw. Pure: every rule of "what passes" lives here and
// is unit-tested; scripts/verify/probes.ts only observes.
import { MQTT_TLS_PORT } from "../../infra/render/mosquitto";
import { PUBLIC_PORTS, SSH_PORT } from "../../policy/network";
import type { BrokerKind } from "../../protocol";
import type { SshExpectation } from "./options";

export type Status = "PASS" | "FAIL" | "INFO" | "SKIP";
export interface CheckResult {
  status: Status;
  name: string;
  detail: string;
}

const pass = (name: string, detail: string): CheckResult => ({ status: "PASS", name, detail });
const fail = (name: string, detail: string): CheckResult => ({ status: "FAIL", name, detail });

/**
 * open: something accepted the TCP connection. closed: refused (RST). filtered: no answer within the
 * timeout (what an AWS security group does to a port it does not allow). unreachable: no route.
 */
export type PortState = "open" | "closed" | "filtered" | "unreachable";
export interface PortProbe {
  port: number;
  state: PortState;
}

const list = (ports: readonly number[]) => ports.join(", ");

/**
 * The ports the server itself must answer on. broker iot-core: MQTT is AWS IoT Core's, nothing listens on the
 * server's 8883 and the security group does not open it (infra/network.ts), so it must not answer.
 */
export function serverPublicPorts(broker: BrokerKind): readonly number[] {
  return broker === "mosquitto" ? PUBLIC_PORTS : PUBLIC_PORTS.filter((p) => p !== MQTT_TLS_PORT);
}

/** Only the public ports answer (and 22, which has its own check); each public port answers. */
export function portsVerdict(probes: readonly PortProbe[], broker: BrokerKind = "mosquitto"): CheckResult {
  const expected = serverPublicPorts(broker);
  const open = probes.filter((p) => p.state === "open").map((p) => p.port);
  const unexpected = open.filter((p) => p !== SSH_PORT && !expected.includes(p));
  const scanned = new Set(probes.map((p) => p.port));
  const silent = expected.filter((p) => scanned.has(p) && !open.includes(p));
  // Said only where it is the reason: the same port is a must-answer with mosquitto.
  const noBroker = broker === "iot-core" ? ` (broker iot-core: no broker on the server)` : "";
  const problems: string[] = [];
  if (unexpected.length)
    problems.push(
      `${list(unexpected)} answer${unexpected.length > 1 ? "" : "s"} but must not${unexpected.includes(MQTT_TLS_PORT) ? noBroker : ""}`,
    );
  if (silent.length)
    problems.push(
      `${silent.map((p) => `${p} (${probes.find((x) => x.port === p)?.state})`).join(", ")} should answer and do${silent.length > 1 ? "" : "es"} not`,
    );
  const what = `${probes.length} port${probes.length === 1 ? "" : "s"} scanned`;
  if (problems.length) return fail("ports", `${what}: ${problems.join("; ")}`);
  const publicOpen = open.filter((p) => p !== SSH_PORT);
  const notes = [
    ...(scanned.has(SSH_PORT) ? ["22: see ssh"] : []),
    ...(noBroker && scanned.has(MQTT_TLS_PORT) ? [`${MQTT_TLS_PORT} closed: the broker is AWS IoT Core`] : []),
  ];
  return pass(
    "ports",
    `${what}: only ${list(publicOpen)} answer${publicOpen.length === 1 ? "s" : ""}${notes.length ? ` (${notes.join("; ")})` : ""}`,
  );
}

/** "SSH-2.0-OpenSSH_9.2p1 Debian-2" -> the software part, or undefined for anything that is not an SSH greeting (RFC 4253 4.2). */
export function sshBanner(firstLine: string): string | undefined {
  const m = /^SSH-(2\.0|1\.99)-(\S+)/.exec(firstLine);
  return m ? m[2] : undefined;
}

/**
 * Port 22 answers only from adminCidrs. One vantage point cannot see both sides, so without --ssh the
 * verdict is INFO: what was seen, and what would prove the rest.
 */
export function sshVerdict(expect: SshExpectation, state: PortState, banner: string | undefined): CheckResult {
  const seen =
    state === "open"
      ? banner
        ? `22 answers with an SSH greeting (${banner})`
        : "22 accepts connections but sent no SSH greeting"
      : `22 does not answer (${state})`;
  if (expect === "open") {
    if (state === "open" && banner) return pass("ssh", `${seen}, as it must for an address in adminCidrs`);
    return fail("ssh", `${seen}; from an address in adminCidrs it must answer with SSH`);
  }
  if (expect === "closed") {
    if (state !== "open") return pass("ssh", `${seen}, as it must outside adminCidrs`);
    return fail("ssh", `${seen}; from outside adminCidrs it must not answer: check the security group`);
  }
  return {
    status: "INFO",
    name: "ssh",
    detail:
      state === "open"
        ? `${seen}: right only if this machine's address is in adminCidrs; run with --ssh closed from another network to prove it is closed there`
        : `${seen}: right if this machine is outside adminCidrs; from an admin address run with --ssh open`,
  };
}

/** Plain HTTP must only redirect, to HTTPS on the same name (nginx: return 301 https://$host$request_uri). */
export function redirectVerdict(
  res: { status: number; location?: string } | { error: string },
  name: string,
  path: string,
): CheckResult {
  if ("error" in res) return fail("http-redirect", `http://${name}${path}: ${res.error}`);
  if (![301, 302, 307, 308].includes(res.status))
    return fail("http-redirect", `http://${name}${path} answered ${res.status}, not a redirect to HTTPS`);
  let target: URL | undefined;
  try {
    target = new URL(res.location ?? "");
  } catch {}
  const host = name.includes(":") ? `[${name}]` : name;
  const same = target?.protocol === "https:" && target.host === host && `${target.pathname}${target.search}` === path;
  if (!same)
    return fail(
      "http-redirect",
      `http://${name}${path} redirects to ${res.location ?? "(no Location)"}, not https://${host}${path}`,
    );
  return pass("http-redirect", `http://${name}${path} -> ${res.status} ${res.location}`);
}

export interface TlsObservation {
  /** The chain verified against the trust given (the stack CA, or the public store). */
  authorized: boolean;
  authorizationError?: string;
  /** tls.checkServerIdentity's complaint, when the name does not match. */
  identityError?: string;
  validTo?: Date;
  protocol?: string;
  issuer?: string;
}

/** The server's chain verifies against `trust`, names `name`, and is in date. */
export function tlsVerdict(
  check: string,
  name: string,
  trust: string,
  obs: TlsObservation | { error: string },
  now: Date,
): CheckResult {
  if ("error" in obs) return fail(check, `no TLS handshake with ${name}: ${obs.error}`);
  if (!obs.authorized)
    return fail(
      check,
      `the certificate does not verify against ${trust}: ${obs.authorizationError ?? "unknown error"}${obs.issuer ? ` (issuer: ${obs.issuer})` : ""}`,
    );
  if (obs.identityError) return fail(check, `the certificate is not for ${name}: ${obs.identityError}`);
  const days = obs.validTo ? Math.floor((obs.validTo.getTime() - now.getTime()) / 86_400_000) : undefined;
  const until = obs.validTo ? `, valid until ${obs.validTo.toISOString().slice(0, 10)} (${days} days)` : "";
  return pass(check, `verifies against ${trust} for ${name}, ${obs.protocol ?? "TLS"}${until}`);
}

/** How an MQTT connect attempt ended. `code`: a CONNACK reason code (number) or a socket/TLS error code. */
export type MqttAttempt = { accepted: true } | { accepted: false; code?: string | number; message: string };

export type MqttOutcome = "accepted" | "refused-by-broker" | "refused-in-tls" | "unreachable" | "inconclusive";

/** Errors that mean the attempt never reached a broker that could refuse it. */
const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT"]);

/**
 * A refusal is an answer: a CONNACK with a failure reason, a TLS alert, or the broker closing the
 * connection during or right after the handshake. No connection or no answer proves nothing.
 */
export function classifyMqttAttempt(a: MqttAttempt): MqttOutcome {
  if (a.accepted) return "accepted";
  if (typeof a.code === "number" && a.code > 0) return "refused-by-broker";
  const code = typeof a.code === "string" ? a.code : "";
  if (UNREACHABLE.has(code)) return "unreachable";
  if (/^ERR_SSL_.*ALERT/.test(code) || code === "ECONNRESET" || code === "EPIPE") return "refused-in-tls";
  if (/^(connection closed before CONNACK|socket hang up)/.test(a.message) || /alert/i.test(a.message))
    return "refused-in-tls";
  return "inconclusive";
}

/** OpenSSL's "80FC...:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:..." -> its reason. */
export function shortError(message: string): string {
  return /SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? message;
}

export function mqttRefusalVerdict(check: string, who: string, a: MqttAttempt): CheckResult {
  const outcome = classifyMqttAttempt(a);
  const why = a.accepted ? "" : `${typeof a.code === "number" ? `reason ${a.code}: ` : ""}${shortError(a.message)}`;
  switch (outcome) {
    case "refused-by-broker":
      return pass(check, `${who} refused by the broker (CONNACK ${why})`);
    case "refused-in-tls":
      return pass(check, `${who} refused in the TLS handshake (${why})`);
    case "accepted":
      return fail(check, `the broker ACCEPTED ${who}`);
    case "unreachable":
      return fail(check, `could not reach the broker to try ${who} (${why})`);
    default:
      return fail(check, `no clear answer to ${who} (${why})`);
  }
}

/** GET / must answer the page itself (200, HTML), not an error or a default site. */
export function webPageVerdict(
  res: { status: number; contentType?: string; body: string } | { error: string },
): CheckResult {
  if ("error" in res) return fail("web-page", `GET /: ${res.error}`);
  if (res.status !== 200) return fail("web-page", `GET / answered ${res.status}`);
  if (!/^text\/html/.test(res.contentType ?? ""))
    return fail("web-page", `GET / answered ${res.contentType ?? "no content type"}, not HTML`);
  const title = /<title>([^<]*)<\/title>/i.exec(res.body)?.[1]?.trim();
  if (title !== "DIY Device Cloud")
    return fail("web-page", `GET / is not the DIY Device Cloud page (title: ${title ?? "none"})`);
  return pass("web-page", `GET / answered 200 with the page ("${title}")`);
}

/** Every API request without a session must be refused with 401. */
export function apiVerdict(answers: readonly { request: string; status: number | string }[]): CheckResult {
  const wrong = answers.filter((a) => a.status !== 401);
  const all = answers.map((a) => `${a.request} ${a.status}`).join(", ");
  if (wrong.length) return fail("api-login-required", `without a login: ${all}; each must be 401`);
  return pass("api-login-required", `without a login: ${all}`);
}

export interface DeviceSeen {
  id: string;
  /** null: the web app has not seen a status yet (never connected since the web app started). */
  online: boolean | null;
}

/** What opening the page's live socket after login showed: its snapshot, the status refusing the upgrade, or an error. */
export type LiveSeen = { snapshot: { broker: string; devices: number } } | { status: number } | { error: string };

/** The page's live connection (wss://<name>/api/live through nginx) opens for a session and sends its snapshot. */
export function liveVerdict(seen: LiveSeen): CheckResult {
  const what = "the page's live connection (wss /api/live)";
  if ("snapshot" in seen)
    return pass(
      "live-socket",
      `${what} opened with the session and sent its snapshot (${seen.snapshot.devices} device${seen.snapshot.devices === 1 ? "" : "s"}, broker ${seen.snapshot.broker})`,
    );
  if ("status" in seen)
    return fail(
      "live-socket",
      `${what} answered ${seen.status} to the upgrade, not 101: ${
        seen.status === 401
          ? "the app did not take the session"
          : "nginx does not pass the upgrade to the web app (location = /api/live)"
      }`,
    );
  return fail("live-socket", `${what}: ${seen.error}`);
}

/** One line per device (online passes, offline or never seen fails), and the live socket's line. */
export function deviceVerdicts(
  seen: { broker: string; devices: readonly DeviceSeen[]; live?: LiveSeen } | { error: string },
): CheckResult[] {
  if ("error" in seen) return [fail("devices", seen.error)];
  const live = seen.live ? [liveVerdict(seen.live)] : [];
  if (seen.devices.length === 0)
    return [
      { status: "INFO", name: "devices", detail: `no devices configured (web app: broker ${seen.broker})` },
      ...live,
    ];
  return [
    ...seen.devices.map((d) =>
      d.online === true
        ? pass(`device ${d.id}`, "online")
        : fail(
            `device ${d.id}`,
            d.online === false
              ? "offline (its last will, or it said goodbye): check the board's diy-device.service"
              : `no status seen by the web app (broker ${seen.broker}): the device has not connected`,
          ),
    ),
    ...live,
  ];
}
