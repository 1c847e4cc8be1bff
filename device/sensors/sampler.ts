import type { Logger } from "../log";
import { DEFAULT_HEARTBEAT_SECONDS, DEFAULT_SENSOR_INTERVAL_SECONDS, type SensorConfig } from "./config";
import type { SensorReader } from "./types";

// When a sensor is read and when a reading is worth publishing. Every intervalSeconds one sample;
// without reportChange every sample is published; with it, only a sample that moved at least
// reportChange from the last published value, or the first one after a heartbeat's silence (so the
// chart and the page's "last seen" keep going when nothing changes).

export interface SamplePolicy {
  intervalMs: number;
  reportChange?: number;
  heartbeatMs: number;
}

export function samplePolicy(cfg: SensorConfig): SamplePolicy {
  const intervalMs = (cfg.intervalSeconds ?? DEFAULT_SENSOR_INTERVAL_SECONDS) * 1000;
  return {
    intervalMs,
    ...(cfg.reportChange === undefined ? {} : { reportChange: cfg.reportChange }),
    heartbeatMs: Math.max(intervalMs, DEFAULT_HEARTBEAT_SECONDS * 1000),
  };
}

export interface Published {
  value: number;
  at: number;
}

export function shouldPublish(last: Published | undefined, value: number, now: number, p: SamplePolicy): boolean {
  if (last === undefined || p.reportChange === undefined) return true;
  if (Math.abs(value - last.value) >= p.reportChange) return true;
  return now - last.at >= p.heartbeatMs;
}

export interface Sampling {
  /** Stops the timer; a read in progress finishes but is not published. */
  stop(): void;
  /** The last published reading. */
  last(): Published | undefined;
  /** Publishes the latest sample that could not be sent (taken while offline); call on (re)connect. */
  flushPending(): void;
}

/**
 * Reads `reader` every interval (the next read is scheduled after the previous one ends: a slow
 * DS18B20 conversion never overlaps the next) and hands publishable readings to `publish`. A failed
 * read is logged once when it starts failing (and when the message changes) and once when it recovers.
 */
export function startSampling(opts: {
  name: string;
  reader: SensorReader;
  policy: SamplePolicy;
  /** Sends a reading; false when it could not be sent now (offline): it is offered again by flushPending. */
  publish: (value: number, at: Date) => boolean;
  log: Logger;
  now?: () => number;
}): Sampling {
  const now = opts.now ?? Date.now;
  let last: Published | undefined;
  let pending: Published | undefined;
  const send = (r: Published) => {
    if (opts.publish(r.value, new Date(r.at))) {
      last = r;
      pending = undefined;
    } else pending = r;
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failing: string | undefined;
  const tick = async () => {
    try {
      const value = await opts.reader.read();
      if (stopped) return;
      if (failing !== undefined) {
        opts.log.info("sensor recovered", { sensor: opts.name });
        failing = undefined;
      }
      const t = now();
      if (shouldPublish(last, value, t, opts.policy)) send({ value, at: t });
    } catch (err) {
      const message = (err as Error).message;
      if (!stopped && message !== failing) {
        opts.log.warn("sensor read failed", { sensor: opts.name, err: message });
        failing = message;
      }
    } finally {
      if (!stopped) timer = setTimeout(tick, opts.policy.intervalMs);
    }
  };
  void tick();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    last: () => last,
    flushPending() {
      if (pending && !stopped) send(pending);
    },
  };
}
