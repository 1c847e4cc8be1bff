// Pure decisions from Settings to the server renderers' inputs; render-stack.ts composes them for every caller
// (the Pulumi program, `npm run render`, the daemon and VM tiers), so what is inspected is what ships.
import type { WebConfigInput } from "../apps/web/config";
import { sensorUnit } from "../device/sensors/config";
import { IOT_CORE_MQTT_PORT } from "../protocol";
import { type DeviceSettings, type Settings, historySettings, historyStorageSettings } from "./config";
import { BOARD_PROFILES } from "./render/device-board";
import type { Fail2banJailInput } from "./render/fail2ban";
import { MQTT_TLS_PORT } from "./render/mosquitto";
import { NGINX_WORKER_GROUP } from "./render/nginx";
import { renderOpsPush } from "./render/ops";
import type { ServerFilesInput, ServerPki } from "./render/server-files";
import { SERVER_WEB_PATHS } from "./render/systemd";
import { stackAclModel, webDevices } from "./stack-acl";

/** Name the server calls itself (one DNS label: cloud-init's hostname). */
export const SERVER_HOSTNAME = "diy-cloud";

/**
 * The web app's `homeAssistant` section: how Home Assistant names the model of each device it shows
 * (the board; a bridge child: the bridge it talks through, also linked as via_device), and the unit of
 * each sensor (the one the device service publishes with: device/sensors/config.ts sensorUnit).
 */
export function webHomeAssistant(devices: readonly DeviceSettings[]): {
  devices: Record<string, { model: string; via?: string; units?: Record<string, string> }>;
} {
  const entries = devices.flatMap((d) => [
    [
      d.id,
      {
        model: BOARD_PROFILES[d.board].title,
        ...(d.sensors?.length ? { units: Object.fromEntries(d.sensors.map((x) => [x.name, sensorUnit(x)])) } : {}),
      },
    ] as const,
    ...(d.bridge?.children ?? []).map((c) => [c.id, { model: `MQTT device via bridge ${d.id}`, via: d.id }] as const),
  ]);
  const shown = new Set(webDevices(devices).map((d) => d.id));
  return { devices: Object.fromEntries(entries.filter(([id]) => shown.has(id))) };
}

/** fail2ban's settings from the stack: never ban the admins' own networks; mail bans when mail is set up. */
export function fail2banInput(s: Settings): Omit<Fail2banJailInput, "source"> {
  return {
    ignoreIps: s.adminCidrs.filter((c) => !c.endsWith("/0")),
    ...(s.alertEmail && s.smtpHost ? { mail: { destemail: s.alertEmail, sender: s.smtpFrom ?? s.alertEmail } } : {}),
  };
}

// Re-exported: the stack's MQTT identities are decided in stack-acl.ts, which the config checks use too.
export {
  aclStack,
  bridgesOf,
  homeAssistantAclDevices,
  stackAclModel,
  type WebDeviceEntry,
  webDevices,
} from "./stack-acl";

/**
 * The broker the server's web app talks to: mosquitto on the same box, or AWS IoT Core, where the web app is the
 * thing `<thingPrefix>:web` at the account's ATS data endpoint and reads the retained-message API of `region`.
 */
export type ServerBroker =
  | { kind: "mosquitto" }
  | {
      kind: "iot-core";
      /** The ATS data endpoint's host name (aws.iot.getEndpoint, endpointType iot:Data-ATS). */
      endpoint: string;
      region: string;
      /** protocol/iot-core.ts iotNamePrefix(project, stack). */
      thingPrefix: string;
    };

/** The values only known at deployment (cloud outputs, generated secrets), as plain text. */
export interface ServerValues {
  /** Default: mosquitto on the server. */
  broker?: ServerBroker;
  source: string;
  /** https://<domain or public IP> */
  webUrl: string;
  pki: ServerPki;
  webPassword: string;
  sessionSecret: string;
  smtpPassword?: string;
  webBundle: string;
  /** stack: ddnsUpdateUrl (secret), revealed for the push only. */
  ddnsUpdateUrl?: string;
  /** The history's EBS volume (infra/history-storage.ts); omitted: the history stays on the root disk. */
  historyVolumeId?: string;
}

/**
 * The web app's config on the server (apps/web/config.ts is its schema; infra/render/web-config.ts checks and
 * renders it). `publicOrigin` is known only once the address is: without it, the rest can be checked at preview.
 */
export function serverWebConfig(
  s: Settings,
  publicOrigin?: string,
  broker: ServerBroker = { kind: "mosquitto" },
): WebConfigInput {
  const files = { ca: SERVER_WEB_PATHS.ca, cert: SERVER_WEB_PATHS.cert, key: SERVER_WEB_PATHS.key };
  return {
    // nginx proxies to this socket; only its workers' group may open it (apps/web/listen.ts).
    listen: { socket: SERVER_WEB_PATHS.socket, group: NGINX_WORKER_GROUP },
    broker:
      broker.kind === "iot-core"
        ? // The ATS endpoint, verified against Amazon's roots; the retained-message API on the same host.
          {
            kind: "iot-core",
            url: `mqtts://${broker.endpoint}:${IOT_CORE_MQTT_PORT}`,
            ...files,
            iot: { thingPrefix: broker.thingPrefix, region: broker.region },
          }
        : // Same box: loopback, verified against the server certificate's localhost SAN.
          { url: `mqtts://localhost:${MQTT_TLS_PORT}`, ...files },
    devices: webDevices(s.devices),
    stateDir: SERVER_WEB_PATHS.stateDir,
    history: { file: SERVER_WEB_PATHS.history, ...historySettings(s) },
    ...(s.integrations.homeAssistant ? { homeAssistant: webHomeAssistant(s.devices) } : {}),
    ...(publicOrigin === undefined ? {} : { publicOrigin }),
    cookieSecure: true,
    // apps/web/alerts.ts: device offline/online mails through the local postfix (logged only without an address)
    alerts: {
      offlineAfterMinutes: s.offlineAlertMinutes,
      rateLimitMinutes: s.alertRateLimitMinutes,
      ...(s.alertEmail && s.smtpHost ? { email: s.alertEmail } : {}),
    },
  };
}

export function serverFilesInput(s: Settings, v: ServerValues): ServerFilesInput {
  const broker: ServerBroker = v.broker ?? { kind: "mosquitto" };
  // Operations (infra/render/ops.ts): alert script, fail2ban mail override, expiry timer, Let's Encrypt
  // with a domain, dynamic DNS with an update URL (Route53 keeps the name when it is configured).
  const ops = renderOpsPush({
    source: v.source,
    alertEmail: s.alertEmail && s.smtpHost ? s.alertEmail : undefined,
    alertRateLimitMinutes: s.alertRateLimitMinutes,
    certExpiryWarnDays: s.certExpiryWarnDays,
    letsEncrypt: s.domain && s.letsEncryptEmail ? { domain: s.domain, email: s.letsEncryptEmail } : undefined,
    ddnsUpdateUrl: s.route53ZoneId ? undefined : v.ddnsUpdateUrl,
    localBroker: broker.kind === "mosquitto",
  });
  return {
    source: v.source,
    hostname: s.domain ?? SERVER_HOSTNAME,
    broker: broker.kind,
    pki: v.pki,
    acl: stackAclModel(s),
    nginx: { serverName: s.domain ?? "_" },
    postfix: {
      relay: s.smtpHost ? { host: s.smtpHost, port: s.smtpPort, user: s.smtpUser } : undefined,
      smtpPassword: v.smtpPassword,
      smtpFrom: s.smtpFrom,
    },
    fail2ban: fail2banInput(s),
    historyVolume: v.historyVolumeId
      ? { volumeId: v.historyVolumeId, instanceType: s.instanceType, sizeGiB: historyStorageSettings(s).volumeGiB }
      : undefined,
    web: {
      bundle: v.webBundle,
      config: serverWebConfig(s, v.webUrl, broker),
      password: v.webPassword,
      sessionSecret: v.sessionSecret,
    },
    extraFiles: ops.files,
    after: ops.after,
  };
}
