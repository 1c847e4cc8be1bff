import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { type IClientOptions, type MqttClient, connect } from "mqtt";
import { type OutputValue, encodeInput, encodeSensor, encodeState, subscriptions, topics } from "../protocol";
import { type BackendEnv, type InputEvent, type InputLine, type OutputLine, openInput, openOutput } from "./backends";
import { DEFAULT_KEEPALIVE_SECONDS, DEFAULT_STATE_DIR, type DeviceConfig } from "./config";
import { type Logger, createLogger } from "./log";
import { type SensorEnv, openSensor } from "./sensors";
import { sensorUnit } from "./sensors/config";
import { type Sampling, samplePolicy, startSampling } from "./sensors/sampler";
import { latencyTrace } from "../protocol/trace";
import { backoffMs, decide } from "./state";

export interface DeviceServiceOptions {
  config: DeviceConfig;
  log?: Logger;
  /** Overrides for tests (a fake sysfs tree, fake libgpiod tools, the simulated sensors' clock). */
  env?: Partial<Omit<BackendEnv, "log">> & Pick<SensorEnv, "now" | "random">;
}

export interface DeviceService {
  readonly deviceId: string;
  /** Current logical value of every output. */
  states(): Record<string, OutputValue>;
  isConnected(): boolean;
  /** "connected", "disconnected", "applied" ({output, value, req}), "dropped" ({topic, reason}), "input", "reading" ({sensor, value}). */
  readonly events: EventEmitter;
  /** Publishes retained `offline`, disconnects, releases every line. Idempotent. */
  stop(): Promise<void>;
}

const STOP_PUBLISH_TIMEOUT_MS = 2000;

/** Reads the TLS material fresh on every connect, so a rotated certificate is picked up without a restart. */
function tlsFiles(cfg: DeviceConfig): Pick<IClientOptions, "ca" | "cert" | "key"> {
  return { ca: readFileSync(cfg.broker.ca), cert: readFileSync(cfg.broker.cert), key: readFileSync(cfg.broker.key) };
}

export async function startDeviceService(opts: DeviceServiceOptions): Promise<DeviceService> {
  const cfg = opts.config;
  const log = opts.log ?? createLogger({ base: { deviceId: cfg.deviceId } });
  const env: BackendEnv = {
    sysfsRoot: opts.env?.sysfsRoot ?? "/sys",
    gpiodBinDir: opts.env?.gpiodBinDir,
    stateDir: opts.env?.stateDir ?? cfg.stateDir ?? DEFAULT_STATE_DIR,
    log,
  };
  const events = new EventEmitter();
  const states = new Map<string, OutputValue>();
  const outputs = new Map<string, OutputLine>();
  const inputs: InputLine[] = [];
  // Commands to one output run one after another, so toggles compose.
  const queues = new Map<string, Promise<void>>();

  const samplers: Sampling[] = [];
  const releaseLines = async () => {
    for (const s of samplers) s.stop();
    await Promise.allSettled([...inputs.map((i) => i.close()), ...[...outputs.values()].map((o) => o.close())]);
  };
  const sensorEnv: SensorEnv = {
    sysfsRoot: env.sysfsRoot,
    ...(opts.env?.now ? { now: opts.env.now } : {}),
    ...(opts.env?.random ? { random: opts.env.random } : {}),
  };

  try {
    // Safe state first: whatever the line did before we started (or during a crash), it is now known.
    for (const out of cfg.outputs) {
      const line = await openOutput(out, env, out.safeState === "on");
      outputs.set(out.name, line);
      states.set(out.name, out.safeState);
      log.info("output ready", { output: out.name, backend: line.description, value: out.safeState });
    }
    for (const input of cfg.inputs) {
      const line = await openInput(input, env);
      inputs.push(line);
      log.info("input ready", { input: input.name, backend: line.description });
    }
  } catch (err) {
    await releaseLines();
    throw err;
  }

  const url = new URL(cfg.broker.url);
  const mqttOptions: IClientOptions & { noDelay: boolean } = {
    protocol: "mqtts",
    host: url.hostname,
    port: Number(url.port),
    servername: cfg.broker.servername,
    protocolVersion: 5,
    // IoT Core: the thing name its policy admits; mosquitto: the device id (the broker binds it to the CN).
    clientId: cfg.broker.clientId ?? cfg.deviceId,
    clean: true, // a command queued during an outage is stale by the time we are back: do not replay it
    keepalive: cfg.keepaliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS,
    connectTimeout: 10_000,
    reconnectPeriod: 0, // we reconnect ourselves, with backoff (mqtt.js retries at a fixed period)
    rejectUnauthorized: true,
    ...tlsFiles(cfg),
    will: { topic: topics.status(cfg.deviceId), payload: Buffer.from("offline"), qos: 1, retain: true },
    // Passed through to net.connect: without it the first small packets wait on Nagle (~40 ms).
    noDelay: true,
    // mqtt-packet's number cache builds 65,536 small Buffers on the first write: measured here it
    // cost ~8 MiB of heap and a third of the start-up time, for savings a device never needs.
    writeCache: false,
  };
  const client: MqttClient = connect(mqttOptions);
  // mqtt.js acknowledges a QoS 1 command (PUBACK) right after our 'message' listener returns, before the
  // command's queued write runs. Here the ack waits for the command's state and leaves in the same TLS
  // write (one syscall, one wake-up of the broker: bench/click-latency.ts), or at the latest one
  // event-loop turn later: an output slower than that (real I/O) never holds up mqtt.js, which reads the
  // next packet only after the ack.
  const unacked = new Map<object, () => void>();
  const ack = (packet: object) => {
    const done = unacked.get(packet);
    unacked.delete(packet);
    done?.();
  };
  /** Runs `publish` and the command's ack with the socket corked: both leave in one write. */
  const withAck = (packet: object, publish: () => void) => {
    const stream = client.stream as { cork?(): void; uncork?(): void } | undefined;
    stream?.cork?.();
    try {
      publish();
      ack(packet);
    } finally {
      stream?.uncork?.();
    }
  };
  client.handleMessage = (packet, done) => {
    unacked.set(packet, done);
    setImmediate(() => ack(packet));
  };

  let stopping = false;
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const publishState = (name: string, value: OutputValue, req?: string) => {
    if (!client.connected) return; // republished on the next connect anyway
    latencyTrace.hook?.("state-published", req);
    client.publish(topics.state(cfg.deviceId, name), encodeState(value, req), { qos: 1, retain: true }, (err) => {
      if (err) log.warn("state publish failed", { output: name, err });
    });
  };

  client.on("connect", () => {
    attempt = 0;
    (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    log.info("connected", { broker: cfg.broker.url });
    // rh 2 (MQTT 5 retain handling): the broker sends no retained message on subscribe, so a `set`
    // someone published with retain is not replayed to us on every reconnect.
    client.subscribe(subscriptions.device(cfg.deviceId), { qos: 1, rh: 2 }, (err, granted) => {
      // Stopped or disconnected while the SUBACK was pending: the next connect starts over.
      if (stopping || !client.connected) return;
      if (err) log.error("subscribe failed", { err });
      const refused = granted?.filter((g) => g.qos >= 0x80) ?? [];
      if (refused.length > 0) log.error("broker refused a subscription", { topics: refused.map((g) => g.topic) });
      client.publish(topics.status(cfg.deviceId), "online", { qos: 1, retain: true });
      for (const [name, value] of states) publishState(name, value);
      for (const s of samplers) s.flushPending();
      events.emit("connected");
    });
  });

  client.on("close", () => {
    if (stopping) return;
    events.emit("disconnected");
    if (reconnectTimer) return;
    const delay = backoffMs(attempt++);
    log.warn("disconnected; reconnecting", { inMs: delay, attempt });
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (stopping) return;
      try {
        Object.assign(client.options, tlsFiles(cfg));
      } catch (err) {
        log.error("cannot read TLS files; keeping the previous ones", { err });
      }
      client.reconnect();
    }, delay);
  });

  // Without a listener an 'error' event would throw; every error here is a reason to log and retry.
  client.on("error", (err) => log.warn("mqtt error", { err }));

  client.on("message", (topic, payload, packet) => {
    const d = decide(cfg.deviceId, states, topic, payload, packet.retain);
    if (d.kind === "drop") {
      log.warn("dropped message", { topic, reason: d.reason, bytes: payload.length });
      events.emit("dropped", { topic, reason: d.reason });
      return;
    }
    const line = outputs.get(d.output);
    if (!line) return;
    latencyTrace.hook?.("device-received", d.req);
    const previous = queues.get(d.output) ?? Promise.resolve();
    const next = previous.then(async () => {
      // Re-decide inside the queue: a toggle must see the value left by the command before it.
      const again = decide(cfg.deviceId, states, topic, payload, packet.retain);
      if (again.kind !== "apply") return;
      let applied = false;
      try {
        await line.write(again.value === "on");
        latencyTrace.hook?.("output-written", again.req);
        states.set(again.output, again.value);
        applied = true;
      } catch (err) {
        log.error("output write failed; state unchanged", { output: again.output, err });
      }
      // Published either way: the req tells the web app its command was handled, the value tells it what is
      // true. The log line after it: the state is what someone is waiting for.
      withAck(packet, () => publishState(again.output, states.get(again.output) ?? "off", again.req));
      if (!applied) return;
      log.info("applied command", { output: again.output, value: again.value, req: again.req });
      events.emit("applied", { output: again.output, value: again.value, req: again.req });
    });
    queues.set(d.output, next);
  });

  cfg.inputs.forEach((input, i) => {
    inputs[i]
      ?.start((event: InputEvent) => {
        log.info("input event", { input: input.name, edge: event });
        events.emit("input", { input: input.name, event });
        // A button press is only worth something now; it is not queued for a later connection.
        if (!client.connected) return;
        client.publish(topics.input(cfg.deviceId, input.name), encodeInput(event), { qos: 1 });
      })
      .catch((err) => log.error("input failed to start", { input: input.name, err }));
  });

  // Sensors: a sensor that cannot be opened (probe missing, no thermal zone) is logged and left out,
  // so one missing probe does not take the board's outputs and inputs down with it.
  for (const sensor of cfg.sensors ?? []) {
    let reader: Awaited<ReturnType<typeof openSensor>>;
    try {
      reader = await openSensor(sensor, sensorEnv);
    } catch (err) {
      log.error("sensor unavailable", { sensor: sensor.name, err });
      continue;
    }
    const unit = sensorUnit(sensor);
    log.info("sensor ready", { sensor: sensor.name, backend: reader.description, unit });
    samplers.push(
      startSampling({
        name: sensor.name,
        reader,
        policy: samplePolicy(sensor),
        log,
        ...(opts.env?.now ? { now: opts.env.now } : {}),
        publish: (value, at) => {
          events.emit("reading", { sensor: sensor.name, value });
          // Offline: the sampler keeps the latest sample and offers it again on connect (flushPending);
          // older ones are not queued. The broker keeps the last one (retained) for the page.
          if (!client.connected) return false;
          client.publish(topics.sensor(cfg.deviceId, sensor.name), encodeSensor(value, unit, at), {
            qos: 1,
            retain: true,
          });
          return true;
        },
      }),
    );
  }

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (client.connected) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, STOP_PUBLISH_TIMEOUT_MS);
          client.publish(topics.status(cfg.deviceId), "offline", { qos: 1, retain: true }, () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      // end(false) waits for the PUBACK of every message in flight; a broker that stopped answering (frozen,
      // or gone without closing the connection) never sends it: after the same grace, the connection is cut.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          const stream = client.stream;
          if (!stream || stream.destroyed) return resolve();
          stream.once("close", () => resolve());
          stream.destroy();
        }, STOP_PUBLISH_TIMEOUT_MS);
        client.end(false, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await Promise.allSettled([...queues.values()]);
      await releaseLines();
      log.info("stopped");
    })();
    return stopped;
  };

  return {
    deviceId: cfg.deviceId,
    states: () => Object.fromEntries(states),
    isConnected: () => client.connected,
    events,
    stop,
  };
}
