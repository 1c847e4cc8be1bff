// mosquitto.conf for the cloud broker: one mTLS listener, ACL by certificate CN, persistence and limits.
import { MAX_PAYLOAD_BYTES } from "../../protocol";
import { absPath, headedFiles, port, positiveInt, token } from "./text";

const file = headedFiles("#", "infra/render/mosquitto.ts");

export type MosquittoLog = { to: "stderr" } | { to: "syslog" } | { to: "file"; path: string };

export interface MosquittoLimits {
  /** Drop persistent sessions of clients gone this long (mosquitto duration: 1h, 14d, 2w ...). */
  persistentClientExpiration: string;
  /** Upper bound on the keepalive a client may ask for, seconds (>= 10). */
  maxKeepalive: number;
  /** QoS 1/2 messages queued per offline client before the oldest are dropped. */
  maxQueuedMessages: number;
}

export interface MosquittoConfInput {
  /** Which stack/setting produced this file, written in the header. */
  source?: string;
  listener: { port: number; bindAddress?: string };
  tls: {
    cafile: string;
    certfile: string;
    keyfile: string;
    /** Revoked device certificates; omitted when nothing is revoked. */
    crlfile?: string;
    minVersion?: "tlsv1.2" | "tlsv1.3";
  };
  aclFile: string;
  persistenceDir: string;
  log: MosquittoLog;
  limits?: Partial<MosquittoLimits>;
  /** Debian's unit does not need one; a local run may want it. */
  pidFile?: string;
}

/** Sized for a 1 GiB micro instance with a few thousand devices. */
export const MOSQUITTO_DEFAULT_LIMITS: MosquittoLimits = {
  persistentClientExpiration: "14d",
  maxKeepalive: 300,
  maxQueuedMessages: 1000,
};

/**
 * Largest publish payload the broker takes: the protocol's own cap, not a setting, so nobody can
 * retain more than a payload every client would drop anyway. mosquitto.conf(5): a larger one is not
 * accepted and an MQTT 5 client gets PUBACK "implementation specific error".
 */
export const MESSAGE_SIZE_LIMIT = MAX_PAYLOAD_BYTES;
/**
 * Largest whole packet: our largest (a PUBLISH with a full payload and the longest topic, or a
 * CONNECT with its Last Will) stays well under 2 KiB. mosquitto reads the packet length first and
 * disconnects a client that announces more, before buffering it (mosquitto.conf(5) max_packet_size),
 * where message_size_limit alone would read a 200 MB publish into memory to refuse it.
 */
export const MAX_PACKET_BYTES = 4 * MAX_PAYLOAD_BYTES;

export const SERVER_MOSQUITTO_PATHS = {
  conf: "/etc/mosquitto/mosquitto.conf",
  acl: "/etc/mosquitto/acl",
  cafile: "/etc/mosquitto/certs/ca.pem",
  certfile: "/etc/mosquitto/certs/server.pem",
  keyfile: "/etc/mosquitto/certs/server.key",
  crlfile: "/etc/mosquitto/certs/crl.pem",
  persistenceDir: "/var/lib/mosquitto/",
} as const;

export const MQTT_TLS_PORT = 8883;

function duration(value: string): string {
  if (!/^[1-9][0-9]*[hdwmy]$/.test(value)) {
    throw new Error(`persistentClientExpiration must look like 1h, 14d, 2w, 6m or 1y, got ${JSON.stringify(value)}`);
  }
  return value;
}

function logLines(log: MosquittoLog): string[] {
  if (log.to === "file") return [`log_dest file ${absPath("log.path", log.path)}`];
  return [`log_dest ${log.to}`];
}

export function renderMosquittoConf(input: MosquittoConfInput): string {
  const limits = { ...MOSQUITTO_DEFAULT_LIMITS, ...input.limits };
  if (limits.maxKeepalive < 10 || limits.maxKeepalive > 65535) {
    throw new Error(`maxKeepalive must be 10-65535 seconds, got ${limits.maxKeepalive}`);
  }
  const persistenceDir = absPath("persistenceDir", input.persistenceDir);
  const bind =
    input.listener.bindAddress === undefined ? "" : ` ${token("listener.bindAddress", input.listener.bindAddress)}`;
  const { tls } = input;
  return file(input.source, [
    "",
    "# Global",
    "per_listener_settings true",
    "set_tcp_nodelay true",
    "connection_messages true",
    ...logLines(input.log),
    "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ...(input.pidFile === undefined ? [] : [`pid_file ${absPath("pidFile", input.pidFile)}`]),
    "persistence true",
    `persistence_location ${persistenceDir.endsWith("/") ? persistenceDir : `${persistenceDir}/`}`,
    `persistent_client_expiration ${duration(limits.persistentClientExpiration)}`,
    `max_keepalive ${limits.maxKeepalive}`,
    `message_size_limit ${MESSAGE_SIZE_LIMIT}`,
    `max_packet_size ${MAX_PACKET_BYTES}`,
    `max_queued_messages ${positiveInt("maxQueuedMessages", limits.maxQueuedMessages)}`,
    "",
    "# Devices and the web app: mutual TLS, username = certificate CN",
    `listener ${port("listener.port", input.listener.port)}${bind}`,
    `cafile ${absPath("tls.cafile", tls.cafile)}`,
    `certfile ${absPath("tls.certfile", tls.certfile)}`,
    `keyfile ${absPath("tls.keyfile", tls.keyfile)}`,
    ...(tls.crlfile === undefined ? [] : [`crlfile ${absPath("tls.crlfile", tls.crlfile)}`]),
    `tls_version ${tls.minVersion ?? "tlsv1.2"}`,
    "require_certificate true",
    "use_identity_as_username true",
    // The client id becomes the username (= CN): a certificate can no longer connect under another
    // client's id and throw it off the broker. mosquitto 2.0.11 and 2.0.21 set the username from the
    // certificate before this replacement (src/handle_connect.c), and apply it per listener.
    "use_username_as_clientid true",
    "allow_anonymous false",
    `acl_file ${absPath("aclFile", input.aclFile)}`,
  ]);
}
