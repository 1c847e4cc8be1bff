// The iot-core profile's online/offline: AWS IoT Core's own lifecycle events instead of the devices' status
// topic. A device's Last Will (`offline`, retained) may be published after the `online` of its newer
// connection, so on IoT Core the status topic can say offline while the device is connected (DESIGN "Beyond
// one machine"); the broker's presence events cannot.
//
// AWS IoT Core Developer Guide, "Lifecycle events" > "Connect/Disconnect events" (life-cycle-events.html):
// - the broker publishes to $aws/events/presence/connected/<clientId> and .../disconnected/<clientId>, JSON with
//   clientId, eventType ("connected" | "disconnected"), timestamp (ms), versionNumber, sessionIdentifier,
//   principalIdentifier, and on disconnect clientInitiatedDisconnect and disconnectReason;
// - "Lifecycle messages might be sent out of order. You might receive duplicate messages."; versionNumber is
//   incremented for each connection of a client id, so (versionNumber, connected before disconnected) orders
//   the events of one client, and an event older than the last one applied is dropped.
// The device's client id is its thing name (protocol/iot-core.ts iotThingName): events of other stacks' or
// other accounts' clients, or of identities that are not a configured device, are ignored.
import { z } from "zod";
import { identityOfThing, iotPresenceTopics, parsePresenceTopic, parseTopic, topics } from "../../protocol";
import type { LinkExtension } from "./broker";
import type { Logger } from "./log";

export const PresenceEvent = z.looseObject({
  clientId: z.string().min(1),
  eventType: z.enum(["connected", "disconnected"]),
  timestamp: z.number().int().nonnegative(),
  versionNumber: z.number().int().nonnegative(),
});
export type PresenceEvent = z.infer<typeof PresenceEvent>;

/** Where a presence event goes: the device store's status (the same path a status message takes). */
export interface PresenceSink {
  isConfigured(deviceId: string): boolean;
  setOnline(deviceId: string, online: boolean): void;
}

const order = (e: PresenceEvent) => [e.versionNumber, e.eventType === "connected" ? 0 : 1] as const;
const newer = (a: readonly [number, number], b: readonly [number, number]) =>
  a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

export class IotPresence implements LinkExtension {
  readonly subscriptions: readonly string[] = [...iotPresenceTopics.filters];
  private readonly last = new Map<string, readonly [number, number]>();
  readonly counts = { applied: 0, stale: 0, ignored: 0 };

  constructor(
    /** The stack's thing-name prefix (protocol iotNamePrefix). */
    private readonly prefix: string,
    private readonly sink: PresenceSink,
    private readonly log: Logger,
  ) {}

  /** Whether a presence event of this device has been applied since the app started. */
  knows(deviceId: string): boolean {
    return this.last.has(deviceId);
  }

  /**
   * Presence events, and the devices' own status topic: on IoT Core a late Last Will there would undo a newer
   * `online`, so status messages stop here instead of reaching the store.
   */
  owns(topic: string): boolean {
    return parsePresenceTopic(topic) !== undefined || parseTopic(topic)?.kind === "status";
  }

  onConnect(): void {}

  onMessage(topic: string, payload: Buffer): void {
    const where = parsePresenceTopic(topic);
    if (!where) {
      this.counts.ignored++;
      return;
    }
    let event: PresenceEvent;
    try {
      const parsed = PresenceEvent.safeParse(JSON.parse(payload.toString()));
      if (!parsed.success || parsed.data.eventType !== where.event || parsed.data.clientId !== where.clientId)
        throw new Error(parsed.success ? "event does not match its topic" : z.prettifyError(parsed.error));
      event = parsed.data;
    } catch (err) {
      this.log.warn("presence_event_dropped", { topic, reason: (err as Error).message });
      return;
    }
    const deviceId = identityOfThing(this.prefix, event.clientId);
    if (deviceId === undefined || !this.sink.isConfigured(deviceId)) {
      this.counts.ignored++;
      return;
    }
    const key = order(event);
    const seen = this.last.get(deviceId);
    if (seen && !newer(key, seen)) {
      this.counts.stale++;
      this.log.debug("presence_event_stale", {
        device: deviceId,
        event: event.eventType,
        version: event.versionNumber,
      });
      return;
    }
    this.last.set(deviceId, key);
    this.counts.applied++;
    this.sink.setOnline(deviceId, event.eventType === "connected");
  }
}

/** The store as a presence sink: presence sets the status exactly as a status message would. */
export function storePresenceSink(store: {
  has(id: string): boolean;
  apply(topic: string, payload: string): unknown;
}): PresenceSink {
  return {
    isConfigured: (id) => store.has(id),
    setOnline: (id, online) => store.apply(topics.status(id), online ? "online" : "offline"),
  };
}
