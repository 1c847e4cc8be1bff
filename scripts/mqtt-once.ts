// One MQTT 5 connection attempt over TLS, no reconnects: what `npm run verify` and the daemon tests
// use to ask a broker "do you accept this client?". Resolves on CONNACK success; rejects with the
// broker's reason (CONNACK reason code on `code`) or the socket's/TLS's error.
import type { PeerCertificate } from "node:tls";
import mqtt, { type MqttClient } from "mqtt";

export interface MqttTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** TLS name to verify; omitted: the host. */
  servername?: string;
  /** false only for probes that send nothing worth protecting (refusal checks); default true. */
  rejectUnauthorized?: boolean;
  /** Verify the certificate against this name instead of the address connected to (forwarded ports). */
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}

export interface MqttTarget {
  /** Default 127.0.0.1. */
  host?: string;
  /** CONNACK deadline, counted from the start of the TCP connect; default 5000 ms. */
  connectTimeoutMs?: number;
}

export function connectOnce(
  port: number,
  tls: MqttTls,
  clientId: string,
  target: MqttTarget = {},
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({
      protocol: "mqtts",
      host: target.host ?? "127.0.0.1",
      port,
      protocolVersion: 5,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: target.connectTimeoutMs ?? 5000,
      rejectUnauthorized: true,
      ...tls,
    });
    client.once("connect", () => resolve(client));
    client.once("error", (err) => {
      client.end(true);
      reject(err);
    });
    client.once("close", () => reject(new Error("connection closed before CONNACK")));
  });
}
