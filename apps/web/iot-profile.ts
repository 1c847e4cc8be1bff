// The web app's iot-core broker profile, as one user of the broker connection (a LinkExtension, like Home
// Assistant discovery): presence events set online/offline (iot-presence.ts), and on every connect, once the
// live subscriptions are in place, the start-up state is read through the retained-message API
// (iot-retained.ts), because AWS IoT Core replays no retained message to a wildcard subscription. The HTTP
// layer, the event stream and the page see the same device store either way.
import type { IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { parseSensor, parseState, parseTopic } from "../../protocol";
import type { LinkExtension } from "./broker";
import { IotPresence, storePresenceSink } from "./iot-presence";
import { loadRetainedState } from "./iot-retained";
import type { Logger } from "./log";
import type { DeviceStore } from "./state";

const notOlder = (current: string | undefined, incoming: string) =>
  current !== undefined && Date.parse(current) >= Date.parse(incoming);

/**
 * Whether the store already holds a value for this topic at least as new as a retained payload: states and
 * readings compare the device's own `at`; a status yields to any presence event seen since the start.
 */
export function storeHasNewer(store: DeviceStore, presence: IotPresence, topic: string, payload: Buffer): boolean {
  const t = parseTopic(topic);
  const device = t && store.get(t.deviceId);
  if (!t || !device) return false;
  if (t.kind === "status") return presence.knows(t.deviceId);
  if (t.kind === "state") {
    const p = parseState(payload);
    return p.ok && notOlder(device.outputs.find((o) => o.name === t.name)?.at, p.value.at);
  }
  if (t.kind === "sensor") {
    const p = parseSensor(payload);
    return p.ok && notOlder(device.sensors.find((x) => x.name === t.name)?.at, p.value.at);
  }
  return false;
}

export class IotCoreProfile implements LinkExtension {
  readonly presence: IotPresence;
  /** The latest start-up load (tests await it). */
  loading: Promise<void> = Promise.resolve();

  constructor(
    thingPrefix: string,
    private readonly store: DeviceStore,
    private readonly retained: IoTDataPlaneClient,
    private readonly log: Logger,
  ) {
    this.presence = new IotPresence(thingPrefix, storePresenceSink(store), log);
  }

  get subscriptions(): readonly string[] {
    return this.presence.subscriptions;
  }

  owns(topic: string): boolean {
    return this.presence.owns(topic);
  }

  onMessage(topic: string, payload: Buffer): void {
    this.presence.onMessage(topic, payload);
  }

  onConnect(): void {
    this.loading = loadRetainedState({
      client: this.retained,
      isConfigured: (id) => this.store.has(id),
      hasNewer: (topic, payload) => storeHasNewer(this.store, this.presence, topic, payload),
      apply: (topic, payload) => this.store.apply(topic, payload, { retained: true }),
      log: this.log,
    }).then(
      () => {},
      // The next connect loads again; until then the page shows what arrives live.
      (err: Error) => this.log.error("retained_state_failed", { error: err.message }),
    );
  }
}
