// One MQTT 5 connection attempt over TLS, no reconnects: what `npm run verify` uses to ask a broker "do you
// accept this client?", and every test tier to connect (test/support/mqtt.ts). Resolves on CONNACK success;
// rejects with the broker's reason (CONNACK reason code on `code`) or the socket's/TLS's error.
import type { PeerCertificate } from "node:tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

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
  /** Further mqtt.js options (a will, a reconnect period, properties); they win over the ones set here. */
  options?: IClientOptions;
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
      ...target.options,
    });
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    const closed = () => fail(new Error("connection closed before CONNACK"));
    client.once("connect", () => {
      client.removeListener("error", fail);
      client.removeListener("close", closed);
      // Later errors are the caller's to watch (a reconnecting client reports each refusal); unheard, an
      // 'error' event would end the process.
      client.on("error", () => {});
      resolve(client);
    });
    client.once("error", fail);
    client.once("close", closed);
  });
}
