// Home Assistant MQTT discovery, published by the web app (config.homeAssistant): the retained configs of
// protocol/homeassistant.ts on every connect and whenever Home Assistant announces itself, and the
// removal of configs this stack published before for devices or names it no longer has.
//
// What was published before is read back from the broker, not from a file: the app subscribes to every
// config topic of our node id, and a retained config it does not want now is cleared with an empty
// retained message (Home Assistant then removes the entity). Only the web identity may write those
// topics (protocol/acl.ts), so whatever is there is ours; the broker's retained store is exactly what
// Home Assistant will read, even after a lost state directory or a restored backup.
import {
  HA_BIRTH_PAYLOAD,
  HA_STATUS_TOPIC,
  type HaDevice,
  type HaDiscoveryConfig,
  haDiscoveryConfigs,
  haTopics,
  parseDiscoveryTopic,
} from "../../protocol";
import type { LinkExtension } from "./broker";
import type { WebConfig } from "./config";
import type { Logger } from "./log";

/**
 * At most one republish per this interval after birth messages (a later one is coalesced into a single
 * republish at the end of the interval): a client that floods `homeassistant/status` cannot make the app
 * flood the broker with configs.
 */
export const REPUBLISH_MIN_INTERVAL_MS = 10_000;
/** Model shown when the stack says nothing about a device. */
export const DEFAULT_HA_MODEL = "DIY device";

/** Home Assistant's view of the configured devices: the page's label as name; model, bridge and units from config. */
export function haDevices(config: Pick<WebConfig, "devices" | "homeAssistant">): HaDevice[] {
  const extra = config.homeAssistant?.devices ?? {};
  return config.devices.map((d) => {
    const e = extra[d.id];
    return {
      id: d.id,
      name: d.label ?? d.id,
      model: e?.model ?? DEFAULT_HA_MODEL,
      ...(e?.via ? { via: e.via } : {}),
      outputs: d.outputs,
      inputs: d.inputs,
      ...(d.sensors.length
        ? {
            sensors: d.sensors.map((x) => ({ name: x.name, ...(e?.units?.[x.name] ? { unit: e.units[x.name] } : {}) })),
          }
        : {}),
    };
  });
}

/** A retained config seen on one of our topics that the stack does not announce now: clear it. */
export function isStaleConfig(topic: string, payload: Buffer | string, wanted: ReadonlySet<string>): boolean {
  return payload.length > 0 && parseDiscoveryTopic(topic) !== undefined && !wanted.has(topic);
}

export interface DiscoveryLink {
  publish(topic: string, payload: string, retain: boolean): Promise<void>;
}

export interface DiscoveryCounts {
  /** Full rounds of publishing every config. */
  rounds: number;
  /** Stale configs cleared. */
  removed: number;
  /** Birth messages heard. */
  births: number;
}

export class HomeAssistantDiscovery implements LinkExtension {
  readonly subscriptions: readonly string[] = [HA_STATUS_TOPIC, ...haTopics.ourConfigs()];
  readonly configs: readonly HaDiscoveryConfig[];
  readonly counts: DiscoveryCounts = { rounds: 0, removed: 0, births: 0 };
  private readonly wanted: ReadonlySet<string>;
  private lastRound = Number.NEGATIVE_INFINITY;
  private pending: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    devices: readonly HaDevice[],
    private readonly link: DiscoveryLink,
    private readonly log: Logger,
    private readonly opts: { minIntervalMs?: number; now?: () => number } = {},
  ) {
    this.configs = haDiscoveryConfigs({ devices });
    this.wanted = new Set(this.configs.map((c) => c.topic));
  }

  owns(topic: string): boolean {
    return topic === HA_STATUS_TOPIC || parseDiscoveryTopic(topic) !== undefined;
  }

  onConnect(): void {
    void this.publishAll("connect");
  }

  onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (topic === HA_STATUS_TOPIC) {
      if (payload.toString() !== HA_BIRTH_PAYLOAD) return;
      this.counts.births++;
      this.log.debug("ha_birth", { retained });
      this.scheduleRound();
      return;
    }
    if (!isStaleConfig(topic, payload, this.wanted)) return;
    // The empty retained message comes back to us too: empty payloads are never stale.
    this.link.publish(topic, "", true).then(
      () => {
        this.counts.removed++;
        this.log.info("ha_discovery_removed", { topic });
      },
      (err: Error) => this.log.error("ha_discovery_remove_failed", { topic, error: err.message }),
    );
  }

  /** Stops the pending republish (app shutdown). */
  stop(): void {
    this.stopped = true;
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private scheduleRound(): void {
    if (this.pending || this.stopped) return;
    const interval = this.opts.minIntervalMs ?? REPUBLISH_MIN_INTERVAL_MS;
    const wait = this.lastRound + interval - this.now();
    if (wait <= 0) {
      void this.publishAll("birth");
      return;
    }
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.publishAll("birth");
    }, wait);
  }

  private async publishAll(why: "connect" | "birth"): Promise<void> {
    if (this.stopped) return;
    this.lastRound = this.now();
    this.counts.rounds++;
    const results = await Promise.allSettled(this.configs.map((c) => this.link.publish(c.topic, c.payload, true)));
    const failed = results.flatMap((r, i) =>
      r.status === "rejected" ? [{ i, error: (r.reason as Error).message }] : [],
    );
    for (const f of failed)
      this.log.error("ha_discovery_publish_failed", { topic: this.configs[f.i]?.topic, error: f.error });
    this.log.info("ha_discovery_published", {
      why,
      configs: this.configs.length - failed.length,
      failed: failed.length,
    });
  }
}
