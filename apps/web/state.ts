// What the web app knows about each configured device, built only from MQTT messages
// (retained state and status arrive on subscribe). The store is the one place status changes are
// observed: listen to its "status" event (offline alerts, apps/web/alerts.ts) or "change" (SSE).
import { EventEmitter } from "node:events";
import {
  type InputPayload,
  type OutputValue,
  parseInput,
  parseSensor,
  parseState,
  parseStatus,
  parseTopic,
} from "../../protocol";
import type { WebDeviceConfig } from "./config";
import { InputRateLimit } from "./input-limit";

export interface OutputView {
  name: string;
  /** null until the device has published its state. */
  value: OutputValue | null;
  /** Request id of the command that produced this state, when the device echoed one. */
  req?: string;
  /** When the device says the state was set (ISO time). */
  at?: string;
}

export interface InputView {
  name: string;
  /** Last event seen since the app started; null before any. */
  value: InputPayload["value"] | null;
  at?: string;
}

export interface SensorView {
  name: string;
  /** Last reading; null before any (the broker hands over the retained one on connect). */
  value: number | null;
  unit?: string;
  /** When the device took the reading (ISO time). */
  at?: string;
}

export interface DeviceView {
  id: string;
  label: string;
  /** null until the broker told us (retained status or the device's Last Will). */
  online: boolean | null;
  /** When this app saw the status change (ISO time). */
  statusSince?: string;
  /** When this app last received a message the device itself published (ISO time). */
  lastSeen?: string;
  outputs: OutputView[];
  inputs: InputView[];
  sensors: SensorView[];
}

/** Emitted as "status" whenever a device's online state changes (not on repeats). */
export interface StatusChange {
  deviceId: string;
  online: boolean;
  /** What we knew before: null when this is the first status seen since start. */
  previous: boolean | null;
  at: Date;
}

/** Emitted as "sensor" for each reading (retained: the broker's stored copy, delivered on subscribe). */
export interface SensorReading {
  deviceId: string;
  name: string;
  value: number;
  unit: string;
  at: string;
  retained: boolean;
}

/** Emitted as "input" for each input event (a button press). */
export interface InputEvent {
  deviceId: string;
  name: string;
  value: InputPayload["value"];
  at: string;
}

export type ApplyResult =
  | {
      ok: true;
      kind: "state" | "status" | "input" | "sensor";
      deviceId: string;
      changed: boolean;
      /** An input event over the device's cap, dropped: "first" of a flood (log it once), then "more". */
      dropped?: "first" | "more";
      /** The first input event accepted after a flood ended: how many the flood lost. */
      droppedBefore?: number;
    }
  /** `unknown`: a device or name the web config does not list (ignored, not an error of the sender). */
  | { ok: false; reason: string; deviceId?: string; unknown?: true };

interface StoreEvents {
  change: [DeviceView];
  status: [StatusChange];
  input: [InputEvent];
  sensor: [SensorReading];
}

export class DeviceStore extends EventEmitter<StoreEvents> {
  private readonly devices = new Map<string, DeviceView>();

  constructor(
    // sensors may be left out (devices without any; tests that predate them).
    devices: readonly (Omit<WebDeviceConfig, "sensors"> & Partial<Pick<WebDeviceConfig, "sensors">>)[],
    private readonly now: () => Date = () => new Date(),
    /** Caps input events per device (a flood from one device must not reach page, history and log). */
    readonly inputLimit: InputRateLimit = new InputRateLimit(),
  ) {
    super();
    for (const d of devices) {
      this.devices.set(d.id, {
        id: d.id,
        label: d.label ?? d.id,
        online: null,
        outputs: d.outputs.map((name) => ({ name, value: null })),
        inputs: d.inputs.map((name) => ({ name, value: null })),
        sensors: (d.sensors ?? []).map((s) => ({ name: s.name, value: null })),
      });
    }
  }

  list(): DeviceView[] {
    return [...this.devices.values()].map(clone);
  }

  get(id: string): DeviceView | undefined {
    const d = this.devices.get(id);
    return d && clone(d);
  }

  /** Whether the stack configured this device (no copy of its view made, as get() makes). */
  has(id: string): boolean {
    return this.devices.has(id);
  }

  hasOutput(id: string, output: string): boolean {
    return this.devices.get(id)?.outputs.some((o) => o.name === output) ?? false;
  }

  /**
   * Applies one MQTT message. Never throws: a topic outside the protocol, an unknown device or
   * output, or a payload that fails its schema comes back as { ok: false, reason } to log and drop.
   */
  apply(topic: string, payload: Buffer | string, meta: { retained?: boolean } = {}): ApplyResult {
    const t = parseTopic(topic);
    if (!t) return { ok: false, reason: "topic outside the protocol" };
    const device = this.devices.get(t.deviceId);
    if (!device) return notInConfig("device", t.deviceId);
    switch (t.kind) {
      case "status": {
        const p = parseStatus(payload);
        if (!p.ok) return { ok: false, reason: p.error, deviceId: device.id };
        const online = p.value === "online";
        const previous = device.online;
        // "online" (even the broker's retained copy) means connected now; "offline" is the Last Will.
        if (online) device.lastSeen = this.now().toISOString();
        if (previous === online) return { ok: true, kind: "status", deviceId: device.id, changed: false };
        const at = this.now();
        device.online = online;
        device.statusSince = at.toISOString();
        this.emit("status", { deviceId: device.id, online, previous, at });
        this.emit("change", clone(device));
        return { ok: true, kind: "status", deviceId: device.id, changed: true };
      }
      case "state": {
        const out = device.outputs.find((o) => o.name === t.name);
        if (!out) return notInConfig(`output "${t.name}"`, device.id);
        const p = parseState(payload);
        if (!p.ok) return { ok: false, reason: p.error, deviceId: device.id };
        const changed = out.value !== p.value.value || out.req !== p.value.req || out.at !== p.value.at;
        if (meta.retained !== true) device.lastSeen = this.now().toISOString();
        out.value = p.value.value;
        out.at = p.value.at;
        if (p.value.req) out.req = p.value.req;
        else delete out.req;
        if (changed) this.emit("change", clone(device));
        return { ok: true, kind: "state", deviceId: device.id, changed };
      }
      case "input": {
        const input = device.inputs.find((i) => i.name === t.name);
        if (!input) return notInConfig(`input "${t.name}"`, device.id);
        // The cap comes before the schema: an event over it costs no parsing, and a flood of bad
        // payloads is dropped as quietly as one of good ones (no log line each).
        const seen = this.now();
        const decision = this.inputLimit.take(device.id, seen.getTime());
        if (decision.action === "drop" || decision.action === "drop-first")
          return {
            ok: true,
            kind: "input",
            deviceId: device.id,
            changed: false,
            dropped: decision.action === "drop-first" ? "first" : "more",
          };
        const p = parseInput(payload);
        if (!p.ok) return { ok: false, reason: p.error, deviceId: device.id };
        device.lastSeen = seen.toISOString();
        input.value = p.value.value;
        input.at = p.value.at;
        this.emit("input", { deviceId: device.id, name: t.name, value: p.value.value, at: p.value.at });
        this.emit("change", clone(device));
        return {
          ok: true,
          kind: "input",
          deviceId: device.id,
          changed: true,
          ...(decision.action === "accept-after-flood" ? { droppedBefore: decision.dropped } : {}),
        };
      }
      case "sensor": {
        const sensor = device.sensors.find((x) => x.name === t.name);
        if (!sensor) return notInConfig(`sensor "${t.name}"`, device.id);
        const p = parseSensor(payload);
        if (!p.ok) return { ok: false, reason: p.error, deviceId: device.id };
        const retained = meta.retained === true;
        if (!retained) device.lastSeen = this.now().toISOString();
        const changed = sensor.value !== p.value.value || sensor.at !== p.value.at || sensor.unit !== p.value.unit;
        sensor.value = p.value.value;
        sensor.unit = p.value.unit;
        sensor.at = p.value.at;
        this.emit("sensor", { deviceId: device.id, name: t.name, ...p.value, retained });
        if (changed) this.emit("change", clone(device));
        return { ok: true, kind: "sensor", deviceId: device.id, changed };
      }
      case "set":
        return { ok: false, reason: "commands are not for the web app", deviceId: device.id };
    }
  }
}

/** A message about a device, output, input or sensor the web config does not list: logged once, dropped. */
function notInConfig(what: string, deviceId: string): ApplyResult {
  return { ok: false, reason: `${what} not in the web config`, deviceId, unknown: true };
}

function clone(d: DeviceView): DeviceView {
  return {
    ...d,
    outputs: d.outputs.map((o) => ({ ...o })),
    inputs: d.inputs.map((i) => ({ ...i })),
    sensors: d.sensors.map((s) => ({ ...s })),
  };
}
