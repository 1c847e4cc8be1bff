// MQTT clients for tests of every tier: one connect (connectOnce, shared with `npm run verify`), publish results
// with their PUBACK reason, subscriptions with their granted codes, and message collectors.
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import { connectOnce } from "../../scripts/mqtt-once";

export { connectOnce, type MqttTls } from "../../scripts/mqtt-once";

/** Certificate files (paths) of a client identity and the CA it trusts. */
export interface ClientFiles {
  ca: string;
  cert?: string;
  key?: string;
}

/** connectOnce to 127.0.0.1:port with the identity's certificate files, read from disk now. */
export function connectWithFiles(
  port: number,
  files: ClientFiles,
  clientId: string,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const read = (path?: string) => (path ? readFileSync(path) : undefined);
  return connectOnce(port, { ca: read(files.ca), cert: read(files.cert), key: read(files.key) }, clientId, { options });
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
