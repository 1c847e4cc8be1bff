// The bridge role: a LAN board's mosquitto gets a plain listener for boards that cannot do TLS
// (an Arduino with Wi-Fi) and an mTLS bridge to the cloud broker under the bridge's own identity
// (CN = protocol's bridgeIdentity(board id)): the board's device service uses the board's id, and the
// cloud broker binds the client id to the CN, so the two connections need one identity each.
//
// LAN authentication: one username per child device (its id) with a generated password, kept in a
// mosquitto password file (hashed on the board), and an ACL that lets each child use only its own
// configured topics — the same rules the cloud gives a device, so a child cannot pose as its sibling
// or invent names. The bridge relays exactly those topics, name by name.
// The cloud side needs nothing special: its ACL gives the bridge identity exactly its children's
// topics (protocol's bridgeUserRules), so even a rewritten bridge config cannot reach other devices.
import { type DeviceAcl, bridgeIdentity, deviceRules, isDeviceId, topics } from "../../protocol";
import { BRIDGE_PATHS } from "./device-paths";
import { DEFAULT_SOURCE, absPath, header, lines, oneLine, port, token } from "./text";

/** A child device: its id and the names of its outputs and inputs (stack config `bridge.children`). */
export type BridgeChild = DeviceAcl;

export interface BridgeMosquittoInput {
  /** The bridge board's device id; the bridge connection's certificate CN is bridgeIdentity(bridgeId). */
  bridgeId: string;
  /** The LAN address the plain listener binds to (never 0.0.0.0: the Internet must not reach it). */
  lanAddress: string;
  lanPort: number;
  cloud: { host: string; port: number };
  children: readonly BridgeChild[];
  source?: string;
  /** Board paths; tests point them into a temp dir. */
  paths?: Partial<Record<"acl" | "passwd" | "ca" | "cert" | "key", string>>;
}

const UNSAFE_BIND = ["0.0.0.0", "::", "*"];

function checkChildren(bridgeId: string, children: readonly { id: string }[]): string[] {
  if (children.length === 0) throw new Error(`bridge ${bridgeId} has no children: list the devices it relays`);
  const ids = children.map((c) => c.id);
  for (const id of ids) {
    if (!isDeviceId(id)) throw new Error(`bridge ${bridgeId}: child id ${JSON.stringify(id)} is not a valid device id`);
    if (id === bridgeId) throw new Error(`bridge ${bridgeId}: a bridge cannot be its own child`);
  }
  if (new Set(ids).size !== ids.length) throw new Error(`bridge ${bridgeId}: child ids must be unique`);
  return ids;
}

/** conf.d drop-in for Debian's mosquitto.conf (which sets pid, persistence and logging). */
export function renderBridgeMosquittoConf(input: BridgeMosquittoInput): string {
  if (!isDeviceId(input.bridgeId))
    throw new Error(`bridgeId ${JSON.stringify(input.bridgeId)} is not a valid device id`);
  checkChildren(input.bridgeId, input.children);
  const lan = token("bridge.lanAddress", input.lanAddress);
  if (UNSAFE_BIND.includes(lan)) {
    throw new Error(
      `bridge ${input.bridgeId}: lanAddress ${lan} would listen on every interface; give the board's LAN address (e.g. 192.168.1.50)`,
    );
  }
  const p = { ...BRIDGE_PATHS, ...input.paths };
  const cloudHost = token("cloud.host", oneLine("cloud.host", input.cloud.host));
  const address = cloudHost.includes(":") ? `[${cloudHost}]` : cloudHost;
  return lines([
    ...header("#", "infra/render/bridge-mosquitto.ts", input.source ?? DEFAULT_SOURCE),
    "",
    "# LAN side: plain MQTT for child devices that cannot do TLS, on the LAN address only",
    `listener ${port("bridge.port", input.lanPort)} ${lan}`,
    "allow_anonymous false",
    `password_file ${absPath("passwd", p.passwd)}`,
    `acl_file ${absPath("acl", p.acl)}`,
    "set_tcp_nodelay true",
    "",
    `# Cloud side: mutual TLS as "${bridgeIdentity(input.bridgeId)}", relaying only its children's topics`,
    "connection diy-cloud",
    `address ${address}:${port("cloud.port", input.cloud.port)}`,
    "# The cloud broker replaces the client id with the certificate CN anyway (use_username_as_clientid).",
    `remote_clientid ${bridgeIdentity(input.bridgeId)}`,
    "bridge_protocol_version mqttv50",
    "cleansession false",
    "restart_timeout 2 60",
    "keepalive_interval 60",
    "# Connection state stays local: the cloud ACL would refuse it, and the web app does not read it.",
    "notifications_local_only true",
    `bridge_cafile ${absPath("ca", p.ca)}`,
    `bridge_certfile ${absPath("cert", p.cert)}`,
    `bridge_keyfile ${absPath("key", p.key)}`,
    "bridge_tls_version tlsv1.2",
    "bridge_insecure false",
    ...input.children.flatMap((c) => [
      ...c.outputs.flatMap((o) => [`topic ${topics.set(c.id, o)} in 1`, `topic ${topics.state(c.id, o)} out 1`]),
      ...c.inputs.map((i) => `topic ${topics.input(c.id, i)} out 1`),
      `topic ${topics.status(c.id)} out 1`,
    ]),
  ]);
}

/** The LAN broker's ACL: each child username gets exactly a device's rules on its own topics. */
export function renderBridgeAcl(input: {
  bridgeId: string;
  children: readonly BridgeChild[];
  source?: string;
}): string {
  checkChildren(input.bridgeId, input.children);
  return lines([
    ...header("#", "infra/render/bridge-mosquitto.ts", input.source ?? DEFAULT_SOURCE),
    "",
    "# LAN username = child device id (password file); each gets exactly its configured names",
    ...input.children.flatMap((c) => [
      "",
      `user ${c.id}`,
      ...deviceRules(c).map((r) => `topic ${r.access} ${token("ACL topic", r.topic)}`),
    ]),
  ]);
}

/**
 * user:password lines; the install script hashes them with `mosquitto_passwd -U` on the board, so
 * this text is secret and travels only in the install payload (stdin).
 */
export function renderBridgePasswords(input: {
  bridgeId: string;
  children: readonly { id: string; password: string }[];
}): string {
  checkChildren(input.bridgeId, input.children);
  for (const c of input.children) {
    if (!/^[\x21-\x7e]{12,128}$/.test(c.password) || c.password.includes(":")) {
      throw new Error(
        `bridge ${input.bridgeId}: the LAN password of ${c.id} must be 12-128 printable characters without ':' or spaces`,
      );
    }
  }
  return lines(input.children.map((c) => `${c.id}:${c.password}`));
}
