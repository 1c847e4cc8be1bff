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
import {
  type DeviceAcl,
  PROTOCOL_QOS,
  bridgeIdentity,
  clientIdProblem,
  deviceRules,
  isDeviceId,
  subscriptionsProblem,
  topicProblem,
  topics,
} from "../../protocol";
import { BRIDGE_PATHS } from "./device-paths";
import { absPath, headedFiles, lines, oneLine, port, token } from "./text";

const file = headedFiles("#", "infra/render/bridge-mosquitto.ts");

/** A child device: its id and the names of its outputs and inputs (stack config `bridge.children`). */
export type BridgeChild = DeviceAcl;

/** The stack's mosquitto: the bridge connection's client id is its certificate CN (bridgeIdentity). */
export interface MosquittoCloud {
  kind?: "mosquitto";
  host: string;
  port: number;
}

/** AWS IoT Core: the ATS data endpoint, and the bridge connection's thing name, which is its client id. */
export interface IotCoreCloud {
  kind: "iot-core";
  host: string;
  port: number;
  /** protocol/iot-core.ts iotThingName(prefix, bridgeIdentity(bridgeId)): the client id its policy admits. */
  clientId: string;
}

export interface BridgeMosquittoInput {
  /** The bridge board's device id; the bridge connection's certificate CN is bridgeIdentity(bridgeId). */
  bridgeId: string;
  /** The LAN address the plain listener binds to (never 0.0.0.0: the Internet must not reach it). */
  lanAddress: string;
  lanPort: number;
  cloud: MosquittoCloud | IotCoreCloud;
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
  const cloud = input.cloud;
  const cloudHost = token("cloud.host", oneLine("cloud.host", cloud.host));
  const address = `${cloudHost.includes(":") ? `[${cloudHost}]` : cloudHost}:${port("cloud.port", cloud.port)}`;
  const relayed = bridgeTopicLines(input.children);
  const tls = [
    `bridge_cafile ${absPath("ca", p.ca)}`,
    `bridge_certfile ${absPath("cert", p.cert)}`,
    `bridge_keyfile ${absPath("key", p.key)}`,
    "bridge_tls_version tlsv1.2",
    "bridge_insecure false",
  ];
  return file(input.source, [
    "",
    "# LAN side: plain MQTT for child devices that cannot do TLS, on the LAN address only",
    `listener ${port("bridge.port", input.lanPort)} ${lan}`,
    "allow_anonymous false",
    `password_file ${absPath("passwd", p.passwd)}`,
    `acl_file ${absPath("acl", p.acl)}`,
    "set_tcp_nodelay true",
    "",
    ...(cloud.kind === "iot-core"
      ? iotCoreBridge(input.bridgeId, cloud, address, tls, relayed)
      : [
          `# Cloud side: mutual TLS as "${bridgeIdentity(input.bridgeId)}", relaying only its children's topics`,
          "connection diy-cloud",
          `address ${address}`,
          "# The cloud broker replaces the client id with the certificate CN anyway (use_username_as_clientid).",
          `remote_clientid ${bridgeIdentity(input.bridgeId)}`,
          "bridge_protocol_version mqttv50",
          "cleansession false",
          "restart_timeout 2 60",
          "keepalive_interval 60",
          "# Connection state stays local: the cloud ACL would refuse it, and the web app does not read it.",
          "notifications_local_only true",
          ...tls,
          ...relayed,
        ]),
  ]);
}

/** mosquitto.conf(5) `topic <pattern> <in|out> <qos>`: commands in, state, input events and status out, QoS 1. */
function bridgeTopicLines(children: readonly BridgeChild[]): string[] {
  return children.flatMap((c) => [
    ...c.outputs.flatMap((o) => [
      `topic ${topics.set(c.id, o)} in ${PROTOCOL_QOS}`,
      `topic ${topics.state(c.id, o)} out ${PROTOCOL_QOS}`,
    ]),
    ...c.inputs.map((i) => `topic ${topics.input(c.id, i)} out ${PROTOCOL_QOS}`),
    `topic ${topics.status(c.id)} out ${PROTOCOL_QOS}`,
  ]);
}

/**
 * The cloud side on AWS IoT Core, after AWS's documented pattern: the AWS IoT blog "How to Bridge Mosquitto MQTT
 * Broker to AWS IoT" (aws.amazon.com/blogs/iot/how-to-bridge-mosquitto-mqtt-broker-to-aws-iot/, its bridge.conf
 * sample under MIT-0): address <ATS endpoint>:8883, bridge_protocol_version mqttv311, bridge_insecure false,
 * cleansession true, clientid <the thing's>, notifications false, bridge_cafile = Amazon's root, the thing's own
 * certificate and key, `topic ... 1` lines. Beyond the sample:
 * - try_private false: mosquitto.conf(5) "try_private": otherwise the bridge marks its CONNECT as a bridge's (bit
 *   0x80 of the protocol level, 132 for 3.1.1), which "not all brokers support": IoT Core speaks MQTT 3.1.1 (level 4)
 *   and 5 only (developer guide, "MQTT").
 * - Each child command topic is one subscription of the bridge connection, and IoT Core allows 50 per connection
 *   (protocol/limits.ts): more children than that are refused here, not by the broker at run time.
 * The thing's policy (infra/render/iot-policy.ts) grants exactly these topics, client id included.
 */
function iotCoreBridge(
  bridgeId: string,
  cloud: IotCoreCloud,
  address: string,
  tls: readonly string[],
  relayed: readonly string[],
): string[] {
  const clientId = token("cloud.clientId", cloud.clientId);
  const problem = clientIdProblem("iot-core", clientId);
  if (problem) throw new Error(`bridge ${bridgeId}: ${problem}`);
  const subscribed = relayed.filter((l) => / in \d$/.test(l)).map((l) => l.split(" ")[1] as string);
  const tooMany = subscriptionsProblem(
    "iot-core",
    subscribed.map((t) => [t]),
  );
  if (tooMany)
    throw new Error(`bridge ${bridgeId}: its children's commands need ${tooMany}: split the children over two bridges`);
  for (const line of relayed) {
    const topicProblemText = topicProblem("iot-core", line.split(" ")[1] as string, { publish: true });
    if (topicProblemText) throw new Error(`bridge ${bridgeId}: ${topicProblemText}`);
  }
  return [
    `# Cloud side: AWS IoT Core as thing "${clientId}", relaying only its children's topics`,
    "# (AWS IoT blog, How to Bridge Mosquitto MQTT Broker to AWS IoT; its policy grants exactly these topics)",
    "connection diy-cloud",
    `address ${address}`,
    "# The thing name: its policy allows iot:Connect on client/${iot:Connection.Thing.ThingName} only.",
    `remote_clientid ${clientId}`,
    "bridge_protocol_version mqttv311",
    "# Plain MQTT 3.1.1: mosquitto's bridge marker (try_private) makes the protocol level 132, no version IoT Core speaks.",
    "try_private false",
    "cleansession true",
    "restart_timeout 2 60",
    "keepalive_interval 60",
    "# The connection notifications would go to topics the thing's policy does not grant.",
    "notifications false",
    ...tls,
    ...relayed,
  ];
}

/** The LAN broker's ACL: each child username gets exactly a device's rules on its own topics. */
export function renderBridgeAcl(input: {
  bridgeId: string;
  children: readonly BridgeChild[];
  source?: string;
}): string {
  checkChildren(input.bridgeId, input.children);
  return file(input.source, [
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
