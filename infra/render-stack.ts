// One pure function from a stack's Settings and its deployment-time material (certificates, secrets, the cloud's
// addresses, the two bundles) to every file of the server and of each board. The Pulumi program (cloud.ts, and
// devices.ts per board), `npm run render`, the daemon tier and the VM tier all render through it, so what is
// inspected and tested is what ships. It reads Settings through server-input.ts, which uses config.ts's helpers,
// hence it sits here rather than in infra/render/ (no Pulumi there, not even through an import).
// To add a variant (a second broker profile, say), switch on the setting inside renderServer/renderDevice: every
// caller follows.
import { IOT_CORE_MQTT_PORT } from "../protocol";
import type { DeviceSettings, Settings } from "./config";
import { renderCloudConfig } from "./render/cloud-config";
import { devicePayload, type DevicePlan, planDevice } from "./render/device-plan";
import { renderServerPush, type ServerFilesInput, type ServerPki } from "./render/server-files";
import { fail2banInput, SERVER_HOSTNAME, serverFilesInput } from "./server-input";

/** A certificate and its private key, as PEM text. */
export interface Identity {
  certPem: string;
  keyPem: string;
}

/** The MQTT identities of a stack: the web app's, each board's and each bridge connection's. */
export interface MqttIdentities {
  /** The web app's client identity (CN web; on IoT Core the thing `<prefix>:web`). */
  web: Identity;
  /** Each board's client identity (CN = device id), by device id. */
  clients: Readonly<Record<string, Identity>>;
  /** Each bridge board's bridge connection identity (CN = protocol's bridgeIdentity), by board id. */
  bridges: Readonly<Record<string, Identity>>;
}

/**
 * The stack CA's certificates: the server's (nginx; with mosquitto also the broker's) and the MQTT identities the
 * mosquitto profile uses. With IoT Core the MQTT identities are the broker's (IotCoreBroker.identities) and
 * these are not rendered.
 */
export interface StackPki extends MqttIdentities {
  caCertPem: string;
  server: Identity;
  /**
   * The CRL of revoked certificates; omitted when the stack revokes nothing (mosquitto runs without `crlfile`).
   * mosquitto only: IoT Core revokes by deactivating the certificate.
   */
  crlPem?: string;
}

/** The stack's mosquitto on the server: boards (and a bridge's cloud connection) dial host:port. */
export interface MosquittoBroker {
  kind?: "mosquitto";
  /** The domain or the Elastic IP. */
  host: string;
  port: number;
}

/**
 * AWS IoT Core as the broker (stack setting `broker: iot-core`): every identity is a thing whose name is its client
 * id (protocol/iot-core.ts iotThingName), with a certificate AWS IoT issued from the CSR of the identity's key.
 */
export interface IotCoreBroker {
  kind: "iot-core";
  /** The account's ATS data endpoint host (aws.iot.getEndpoint, endpointType "iot:Data-ATS"). */
  endpoint: string;
  /** Its region: the web app signs the retained-message API for it. */
  region: string;
  /** protocol/iot-core.ts iotNamePrefix(project, stack): thing names are `<thingPrefix>:<identity>`. */
  thingPrefix: string;
  /** What IoT Core clients trust: infra/amazon-root-ca.ts iotCoreCaBundle() (Amazon Root CA 1 and 3). */
  caCertPem: string;
  /** The certificates AWS IoT issued (aws.iot.Certificate certificatePem) with their keys. */
  identities: MqttIdentities;
}

export type StackBroker = MosquittoBroker | IotCoreBroker;

/** The trust anchor and MQTT identities the web app and the boards use with this broker. */
export function mqttIdentities(m: { broker: StackBroker; pki: StackPki }): MqttIdentities & { caCertPem: string } {
  const b = m.broker;
  if (b.kind === "iot-core") return { caCertPem: b.caCertPem, ...b.identities };
  return { caCertPem: m.pki.caCertPem, web: m.pki.web, clients: m.pki.clients, bridges: m.pki.bridges };
}

/** What only exists at deployment: where the machines are, the certificates and secrets, the built bundles. */
export interface StackMaterial {
  /** Written into the header of every rendered file. */
  source: string;
  /** The page's public origin: https://<domain or public IP>[:port]. */
  webUrl: string;
  /** The broker profile, and where boards (and a bridge's cloud connection) dial it. */
  broker: StackBroker;
  /** The admin's SSH public keys for the user data; omitted: cloud-init's own (the image's) keys only. */
  adminPublicKeys?: readonly string[];
  pki: StackPki;
  webPassword: string;
  sessionSecret: string;
  /** stack: smtpPassword (secret), revealed for the push only. */
  smtpPassword?: string;
  /** stack: ddnsUpdateUrl (secret), revealed for the push only. */
  ddnsUpdateUrl?: string;
  /** The history's EBS volume; omitted: the history stays on the root disk. */
  historyVolumeId?: string;
  /** Bridge board id -> { child id -> password on its LAN listener }. */
  lanPasswords?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** infra/bundle.ts `bundle("web").code`. */
  webBundle: string;
  /** infra/bundle.ts `bundle("device").code` (unused without devices). */
  deviceBundle: string;
}

export interface RenderedServer {
  /** The EC2 user data (cloud-config; no secrets). */
  userData: string;
  /** The renderers' input the push was made from (tests vary it). */
  input: ServerFilesInput;
  /** The push (infra/render/server-files.ts renderServerPush): files, script (secret), staged copies, hash. */
  push: ReturnType<typeof renderServerPush>;
}

export interface RenderedDevice {
  device: DeviceSettings;
  /** Files, scripts and commands of the install (no secrets). */
  plan: DevicePlan;
  /** The install command's stdin: the plan's files with the key (and a bridge's key and LAN passwords). Secret. */
  payload: string;
}

export interface RenderedStack {
  server: RenderedServer;
  devices: RenderedDevice[];
}

export type StackRenderInput = StackMaterial & { settings: Settings };

/**
 * The user data: it needs only the admin keys, so the program renders it without waiting for the rest. The stack's
 * `broker` setting decides whether mosquitto is installed at all.
 */
export function renderUserData(
  s: Settings,
  m: Pick<StackMaterial, "source" | "adminPublicKeys">,
): RenderedServer["userData"] {
  return renderCloudConfig({
    source: m.source,
    hostname: SERVER_HOSTNAME,
    fail2ban: fail2banInput(s),
    localBroker: s.broker === "mosquitto",
    ...(m.adminPublicKeys ? { adminPublicKeys: m.adminPublicKeys } : {}),
  });
}

/** The server's part of the broker material: IoT Core's without the boards' identities. */
export type ServerBrokerMaterial =
  | { kind?: "mosquitto" }
  | (Omit<IotCoreBroker, "identities"> & { identities: Pick<MqttIdentities, "web"> });

/** The server's PKI files: nginx's certificate from the stack CA; the web app's MQTT identity from the broker's. */
export function serverPki(pki: Omit<StackPki, "clients" | "bridges">, broker: ServerBrokerMaterial = {}): ServerPki {
  const mqtt = broker.kind === "iot-core" ? { caCertPem: broker.caCertPem, web: broker.identities.web } : pki;
  return {
    caCertPem: mqtt.caCertPem,
    serverCertPem: pki.server.certPem,
    serverKeyPem: pki.server.keyPem,
    webCertPem: mqtt.web.certPem,
    webKeyPem: mqtt.web.keyPem,
    ...(pki.crlPem === undefined ? {} : { crlPem: pki.crlPem }),
  };
}

/** What the push is rendered from: the server's part of the material (broker omitted: mosquitto). */
export type ServerPushMaterial = Omit<
  StackMaterial,
  "broker" | "adminPublicKeys" | "lanPasswords" | "deviceBundle" | "pki"
> & { pki: Omit<StackPki, "clients" | "bridges">; broker?: ServerBrokerMaterial };

/**
 * The material's broker profile must be the stack's `broker` setting: a caller that wires one and renders the other
 * would ship a server and boards that cannot reach each other.
 */
function checkBrokerKind(s: Settings, b: Pick<StackBroker, "kind"> | ServerBrokerMaterial): void {
  const kind = b.kind ?? "mosquitto";
  if (kind !== s.broker)
    throw new Error(
      `the stack's broker is ${s.broker} but its files were asked for with ${kind} material: pass the ${s.broker} broker (infra/render-stack.ts StackBroker)`,
    );
}

/** The SSH push: every file the server receives after boot. */
export function renderServerPushOf(s: Settings, m: ServerPushMaterial): Pick<RenderedServer, "input" | "push"> {
  const b = m.broker ?? {};
  checkBrokerKind(s, b);
  const input = serverFilesInput(s, {
    source: m.source,
    webUrl: m.webUrl,
    ...(b.kind === "iot-core"
      ? { broker: { kind: "iot-core", endpoint: b.endpoint, region: b.region, thingPrefix: b.thingPrefix } }
      : {}),
    pki: serverPki(m.pki, b),
    webPassword: m.webPassword,
    sessionSecret: m.sessionSecret,
    smtpPassword: m.smtpPassword,
    webBundle: m.webBundle,
    ddnsUpdateUrl: m.ddnsUpdateUrl,
    historyVolumeId: m.historyVolumeId,
  });
  return { input, push: renderServerPush(input) };
}

/**
 * A board's identity and, for a bridge, its bridge connection's, looked up by device id; a missing one is a bug
 * of the caller's PKI, named here. Generic: the program looks up Outputs, the others PEM text.
 */
export function deviceIdentities<T>(
  device: Pick<DeviceSettings, "id" | "bridge">,
  clients: Readonly<Record<string, T>>,
  bridges: Readonly<Record<string, T>> | undefined,
): { identity: T; bridgeIdentity?: T } {
  const identity = clients[device.id];
  if (!identity)
    throw new Error(`device ${device.id} has no client certificate: infra/pki.ts must issue one per device`);
  if (!device.bridge) return { identity };
  const bridgeIdentity = bridges?.[device.id];
  if (!bridgeIdentity)
    throw new Error(`bridge ${device.id} has no bridge certificate: infra/pki.ts must issue one per bridge`);
  return { identity, bridgeIdentity };
}

/** What a board's install is planned from: no secrets (the keys and LAN passwords go into the payload only). */
export interface DevicePlanMaterial {
  source: string;
  /** mosquitto: the address boards dial; IoT Core: its endpoint and the stack's thing-name prefix. */
  broker: MosquittoBroker | Pick<IotCoreBroker, "kind" | "endpoint" | "thingPrefix">;
  /** Trusted for the broker: the stack CA, or Amazon's roots with IoT Core. */
  deviceBundle: string;
  caCertPem: string;
  certPem: string;
  bridgeCertPem?: string;
}

/** One board's install: files, scripts, commands (infra/render/device-plan.ts planDevice). */
export function renderDevicePlan(device: DeviceSettings, m: DevicePlanMaterial): DevicePlan {
  const b = m.broker;
  return planDevice({
    source: m.source,
    device,
    broker:
      b.kind === "iot-core"
        ? { kind: "iot-core", host: b.endpoint, port: IOT_CORE_MQTT_PORT, thingPrefix: b.thingPrefix }
        : { host: b.host, port: b.port },
    bundle: m.deviceBundle,
    caCertPem: m.caCertPem,
    certPem: m.certPem,
    ...(m.bridgeCertPem === undefined ? {} : { bridgeCertPem: m.bridgeCertPem }),
  });
}

/** One board: its plan and the install's stdin. */
export function renderDevice(device: DeviceSettings, m: StackMaterial): RenderedDevice {
  const mqtt = mqttIdentities(m);
  const { identity, bridgeIdentity } = deviceIdentities(device, mqtt.clients, mqtt.bridges);
  const plan = renderDevicePlan(device, {
    source: m.source,
    broker: m.broker,
    deviceBundle: m.deviceBundle,
    caCertPem: mqtt.caCertPem,
    certPem: identity.certPem,
    ...(bridgeIdentity ? { bridgeCertPem: bridgeIdentity.certPem } : {}),
  });
  const lanPasswords = m.lanPasswords?.[device.id];
  const payload = devicePayload(plan, {
    keyPem: identity.keyPem,
    ...(lanPasswords === undefined ? {} : { lanPasswords: { ...lanPasswords } }),
    ...(bridgeIdentity ? { bridgeKeyPem: bridgeIdentity.keyPem } : {}),
  });
  return { device, plan, payload };
}

/** Every file of the server and of each configured board. */
export function renderStack(input: StackRenderInput): RenderedStack {
  const { settings: s, ...m } = input;
  checkBrokerKind(s, m.broker);
  return {
    server: { userData: renderUserData(s, m), ...renderServerPushOf(s, m) },
    devices: s.devices.map((d) => renderDevice(d, m)),
  };
}
