// The iot-core broker profile's start-up state: AWS IoT Core replays retained messages only to subscriptions
// on the exact topic, never to a wildcard filter (AWS IoT Core Developer Guide, "MQTT retained messages"), and
// the web app follows every device by wildcard. So the state the page starts from (each output's state, each
// sensor's last reading, each device's status) is read through the retained-message API instead, after the
// live subscriptions are in place; where the store already holds a newer value (it arrived live meanwhile) the
// retained one is dropped.
//
// API (AWS IoT API Reference, IoT data plane):
// - ListRetainedMessages, GET /retainedMessage?maxResults=&nextToken=: "Lists summary information about the
//   retained messages stored for the account": { retainedTopics: [{ topic, payloadSize, qos,
//   lastModifiedTime }], nextToken }; topic names only, maxResults 1-200; IAM action iot:ListRetainedMessages
//   (resource `*`).
// - GetRetainedMessage, GET /retainedMessage/{topic}: { topic, payload (base64 blob), qos, lastModifiedTime,
//   userProperties }; ResourceNotFoundException (404) when no message is retained on the topic (cleared
//   between the list and the get); IAM action iot:GetRetainedMessage on topic/<name>.
// Both are billed as messages: only this stack's protocol topics of configured devices are fetched.
import {
  GetRetainedMessageCommand,
  type IoTDataPlaneClient,
  ListRetainedMessagesCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-iot-data-plane";
import { parseTopic } from "../../protocol";
import type { Logger } from "./log";

/** ListRetainedMessages maxResults: at most 200 (API reference). */
export const RETAINED_PAGE_SIZE = 200;
/** GetRetainedMessage calls in flight at once: start-up time without a burst against the account's rate. */
export const RETAINED_GET_CONCURRENCY = 8;

/** The retained topics the page starts from: state, sensor readings, status. Commands and events are not retained. */
export function isStartupTopic(topic: string, isConfigured: (deviceId: string) => boolean): boolean {
  const t = parseTopic(topic);
  return (
    t !== undefined && (t.kind === "state" || t.kind === "sensor" || t.kind === "status") && isConfigured(t.deviceId)
  );
}

export interface RetainedLoad {
  client: IoTDataPlaneClient;
  /** Device ids of the web config: topics of other devices (another stack in the account) are not fetched. */
  isConfigured: (deviceId: string) => boolean;
  /** True when the store already holds a value for the topic at least as new as this retained payload. */
  hasNewer: (topic: string, payload: Buffer) => boolean;
  apply: (topic: string, payload: Buffer) => void;
  log: Logger;
}

/** Every retained topic of the account, page by page. */
async function* listTopics(client: IoTDataPlaneClient): AsyncGenerator<string> {
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListRetainedMessagesCommand({ maxResults: RETAINED_PAGE_SIZE, ...(nextToken ? { nextToken } : {}) }),
    );
    for (const r of page.retainedTopics ?? []) if (r.topic) yield r.topic;
    nextToken = page.nextToken ?? undefined;
  } while (nextToken);
}

/**
 * Reads the retained state of the configured devices and applies what did not arrive live meanwhile.
 * Resolves with what it did; rejects only when the list itself fails (the caller retries on the next connect).
 */
export async function loadRetainedState(load: RetainedLoad): Promise<{ applied: number; skipped: number }> {
  const wanted: string[] = [];
  for await (const topic of listTopics(load.client)) if (isStartupTopic(topic, load.isConfigured)) wanted.push(topic);
  let applied = 0;
  let skipped = 0;
  const getOne = async (topic: string) => {
    try {
      const m = await load.client.send(new GetRetainedMessageCommand({ topic }));
      const payload = m.payload ? Buffer.from(m.payload) : undefined;
      if (!payload || load.hasNewer(topic, payload)) {
        skipped++;
        return;
      }
      load.apply(topic, payload);
      applied++;
    } catch (err) {
      skipped++;
      // Cleared between the list and the get: nothing retained any more, nothing to show.
      if (err instanceof ResourceNotFoundException) return;
      load.log.warn("retained_get_failed", { topic, error: (err as Error).message });
    }
  };
  const queue = [...wanted];
  await Promise.all(
    Array.from({ length: Math.min(RETAINED_GET_CONCURRENCY, queue.length) }, async () => {
      for (let topic = queue.shift(); topic !== undefined; topic = queue.shift()) await getOne(topic);
    }),
  );
  load.log.info("retained_state_loaded", { topics: wanted.length, applied, skipped });
  return { applied, skipped };
}
