// Helpers for the broker-, device- and demo- integration tests: MQTT v5 clients with certificate
// files, publish results with their PUBACK reason, and message collectors.
import { readFileSync } from "node:fs";
import { type IClientOptions, type MqttClient, connect } from "mqtt";

export interface ClientCreds {
  ca: string;
  cert?: string;
  key?: string;
}

/** Connects once (no reconnect); resolves on CONNACK success, rejects with the TLS/CONNACK error. */
export function mqttConnect(
  url: string,
  creds: ClientCreds,
  clientId: string,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, {
      protocolVersion: 5,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      rejectUnauthorized: true,
      ca: readFileSync(creds.ca),
      cert: creds.cert ? readFileSync(creds.cert) : undefined,
      key: creds.key ? readFileSync(creds.key) : undefined,
      ...extra,
    });
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once("connect", () => {
      client.removeListener("error", fail);
      client.on("error", () => {});
      resolve(client);
    });
    client.once("error", fail);
    client.once("close", () => fail(new Error("connection closed before CONNACK")));
  });
}

export type PublishResult = { ok: true } | { ok: false; reasonCode?: number; message: string };

/** QoS 1 publish; under MQTT 5 an ACL denial comes back as PUBACK reason 135 "Not authorized". */
export function publish(client: MqttClient, topic: string, payload: string, retain = false): Promise<PublishResult> {
  return new Promise((resolve) => {
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (!err) resolve({ ok: true });
      else resolve({ ok: false, reasonCode: (err as { code?: number }).code, message: err.message });
    });
  });
}

/** Subscribes and returns the granted QoS/reason codes (>= 0x80 is a refusal). */
export function subscribe(client: MqttClient, topic: string | string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (err) reject(err);
      else resolve((granted ?? []).map((g) => g.qos));
    });
  });
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Records every message the client receives. */
export function collect(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on("message", (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  return got;
}
