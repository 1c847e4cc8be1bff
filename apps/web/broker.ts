// The web app's one persistent MQTT connection: mTLS with the "web" identity, MQTT 5, QoS 1.
// Incoming messages feed the DeviceStore; commands go out with sendCommand.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import * as tls from "node:tls";
import { MqttClient, type IClientOptions } from "mqtt";
import { type CommandPayload, WEB_CLIENT_ID, encodeCommand, subscriptions, topics } from "../../protocol";
import { latencyTrace } from "../../protocol/trace";
import type { WebConfig } from "./config";
import type { Logger } from "./log";
import type { DeviceStore } from "./state";

export const RECONNECT_MIN_MS = 500;
/** Distinct unknown topics logged once each; past this many, further ones are ignored without a line. */
export const UNKNOWN_TOPICS_LOGGED = 20;
export const RECONNECT_MAX_MS = 30_000;
export const PUBLISH_TIMEOUT_MS = 5_000;

/** The broker is not connected (or the publish did not complete in time): HTTP 503. */
export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
}

/** The broker answered the publish with an MQTT 5 failure reason (>= 0x80), e.g. "Not authorized": HTTP 502. */
export class BrokerRejectedError extends Error {
  override name = "BrokerRejectedError";
  constructor(
    message: string,
    readonly reasonCode: number,
  ) {
    super(message);
  }
}

/** What the HTTP layer needs from the broker connection. */
export interface CommandSender {
  readonly connected: boolean;
  /** Publishes a command (QoS 1) with `req` (default: a new id) and resolves with it once the broker acknowledged it. */
  sendCommand(deviceId: string, output: string, value: CommandPayload["value"], req?: string): Promise<string>;
  on(event: "connection", listener: (connected: boolean) => void): unknown;
  off(event: "connection", listener: (connected: boolean) => void): unknown;
}

export interface BrokerTls {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
  servername?: string;
}

export function readBrokerTls(broker: WebConfig["broker"]): BrokerTls {
  return {
    ca: readFileSync(broker.ca),
    cert: readFileSync(broker.cert),
    key: readFileSync(broker.key),
    ...(broker.servername ? { servername: broker.servername } : {}),
  };
}

/** Random bytes for request ids, drawn 9 at a time from a pool filled once per 256 ids (one call into OpenSSL). */
const reqPool = { bytes: Buffer.alloc(0), used: 0 };

export function newRequestId(): string {
  if (reqPool.used + 9 > reqPool.bytes.length) {
    reqPool.bytes = randomBytes(9 * 256);
    reqPool.used = 0;
  }
  reqPool.used += 9;
  return reqPool.bytes.toString("base64url", reqPool.used - 9, reqPool.used);
}

/** Next reconnect delay: doubles from RECONNECT_MIN_MS up to RECONNECT_MAX_MS. */
export function nextBackoff(previousMs: number): number {
  return Math.min(RECONNECT_MAX_MS, Math.max(RECONNECT_MIN_MS, previousMs * 2));
}

interface LinkEvents {
  connection: [boolean];
}

/**
 * Another user of the web app's connection (Home Assistant discovery, apps/web/homeassistant.ts): it
 * names its topics, gets the messages on them instead of the device store, and hears of every connect
 * once its subscriptions are in place.
 */
export interface LinkExtension {
  readonly subscriptions: readonly string[];
  owns(topic: string): boolean;
  onMessage(topic: string, payload: Buffer, retained: boolean): void;
  onConnect(): void;
}

export class BrokerLink extends EventEmitter<LinkEvents> implements CommandSender {
  private readonly client: MqttClient;
  private closed = false;
  private backoffMs = RECONNECT_MIN_MS;
  private wasConnected = false;
  private readonly extensions: LinkExtension[] = [];
  private readonly unknownLogged = new Set<string>();

  constructor(
    url: string,
    tlsOpts: BrokerTls,
    private readonly store: DeviceStore,
    private readonly log: Logger,
    opts: { clientId?: string; reconnectMinMs?: number } = {},
  ) {
    super();
    const u = new URL(url);
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(u.port || 8883);
    this.backoffMs = opts.reconnectMinMs ?? RECONNECT_MIN_MS;
    const minMs = this.backoffMs;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: opts.clientId ?? WEB_CLIENT_ID,
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: this.backoffMs,
      resubscribe: false, // subscribe again on every connect ourselves (clean session)
      // A publish while offline must fail (503), not wait in a queue for a later connection.
      queueQoSZero: false,
    };
    // Our own stream builder so TCP_NODELAY is on before CONNECT is written (no ~40 ms Nagle stalls).
    const build = () => {
      const socket = tls.connect({
        host,
        port,
        ca: tlsOpts.ca,
        cert: tlsOpts.cert,
        key: tlsOpts.key,
        // The broker certificate is checked against servername when set, else against the URL's host.
        ...(tlsOpts.servername ? { servername: tlsOpts.servername } : isIP(host) ? {} : { servername: host }),
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
      });
      socket.setNoDelay(true);
      return socket;
    };
    this.client = new MqttClient(build, options);

    this.client.on("connect", () => {
      this.backoffMs = minMs;
      this.client.options.reconnectPeriod = minMs;
      this.wasConnected = true;
      this.log.info("broker_connected", { url });
      // QoS 0: the session is clean, so a message the broker has not delivered when the connection drops is
      // gone at QoS 1 as well, and what matters comes back retained on the next subscribe (state, status,
      // sensors). QoS 1 would only add a PUBACK per message: a TLS write here and a wake-up of mosquitto
      // in the middle of every click (bench/click-latency.ts).
      this.subscribe([...subscriptions.web], undefined, 0);
      for (const ext of this.extensions) this.subscribe(ext.subscriptions, () => ext.onConnect());
      this.emit("connection", true);
    });
    this.client.on("close", () => {
      if (this.wasConnected) {
        this.wasConnected = false;
        this.log.warn("broker_disconnected", { url });
        this.emit("connection", false);
      }
      if (!this.closed) {
        // Back off: mqtt reads options.reconnectPeriod each time it schedules a reconnect.
        this.client.options.reconnectPeriod = this.backoffMs;
        this.log.debug("broker_reconnect_scheduled", { inMs: this.backoffMs });
        this.backoffMs = nextBackoff(this.backoffMs);
      }
    });
    this.client.on("error", (err) => {
      this.log.warn("broker_error", { error: err.message, code: (err as NodeJS.ErrnoException).code });
    });
    this.client.on("message", (topic, payload, packet) => {
      const ext = this.extensions.find((e) => e.owns(topic));
      if (ext) return ext.onMessage(topic, payload, packet.retain);
      const r = this.store.apply(topic, payload, { retained: packet.retain });
      if (!r.ok) {
        if (r.unknown) {
          // Names the config does not list are ignored. The broker ACL lets devices publish only their
          // configured names, so these come from a config mismatch: say so once per topic, never per
          // message (retained ones come back on every reconnect), and stop after a few.
          if (this.unknownLogged.size < UNKNOWN_TOPICS_LOGGED && !this.unknownLogged.has(topic)) {
            this.unknownLogged.add(topic);
            const last = this.unknownLogged.size === UNKNOWN_TOPICS_LOGGED;
            this.log.info("mqtt_unknown_topic_ignored", {
              topic,
              reason: r.reason,
              ...(last ? { more: "not logged" } : {}),
            });
          }
        } else this.log.warn("mqtt_message_dropped", { topic, reason: r.reason, bytes: payload.length });
      } else if (r.dropped === "first")
        // One line per flood, not one per event: the flood must not reach the log either.
        this.log.warn("input_events_dropped", {
          device: r.deviceId,
          limit: this.store.inputLimit.describe(),
          detail: "the device sends input events faster than the limit; dropping them until it slows down",
        });
      else if (r.droppedBefore) this.log.info("input_events_resumed", { device: r.deviceId, dropped: r.droppedBefore });
      else if (r.changed) this.log.debug("mqtt_message", { topic });
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  private subscribe(topicList: readonly string[], then?: () => void, qos: 0 | 1 = 1): void {
    this.client.subscribe([...topicList], { qos }, (err, granted) => {
      if (err) return this.log.error("broker_subscribe_failed", { error: err.message });
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80);
      if (refused.length) this.log.error("broker_subscribe_refused", { topics: refused.map((g) => g.topic) });
      then?.();
    });
  }

  /** Adds a user of this connection; subscribes its topics now when connected, else on the next connect. */
  attach(ext: LinkExtension): void {
    this.extensions.push(ext);
    if (this.client.connected) this.subscribe(ext.subscriptions, () => ext.onConnect());
  }

  sendCommand(deviceId: string, output: string, value: CommandPayload["value"], req = newRequestId()): Promise<string> {
    latencyTrace.hook?.("command-published", req);
    return this.publish(topics.set(deviceId, output), encodeCommand({ value, req }), false).then(() => {
      latencyTrace.hook?.("publish-acked", req);
      return req;
    });
  }

  /**
   * Publishes at QoS 1 and resolves once the broker acknowledged it; rejects with BrokerRejectedError on an
   * MQTT 5 failure reason (the ACL said no) and BrokerUnavailableError when offline or unacknowledged.
   */
  publish(topic: string, payload: string, retain: boolean): Promise<void> {
    if (!this.client.connected) return Promise.reject(new BrokerUnavailableError("broker not connected"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BrokerUnavailableError("broker did not acknowledge the publish in time")),
        PUBLISH_TIMEOUT_MS,
      );
      this.client.publish(topic, payload, { qos: 1, retain }, (err, packet) => {
        clearTimeout(timer);
        const code =
          (err as { code?: number } | undefined)?.code ??
          (packet as { reasonCode?: number } | undefined)?.reasonCode ??
          0;
        if (typeof code === "number" && code >= 0x80) {
          reject(
            new BrokerRejectedError(
              `broker refused the publish: ${err?.message ?? `reason code 0x${code.toString(16)}`}`,
              code,
            ),
          );
        } else if (err) {
          reject(new BrokerUnavailableError(`publish failed: ${err.message}`));
        } else {
          resolve();
        }
      });
    });
  }

  /** Disconnects and stops reconnecting. */
  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.client.end(true, {}, () => resolve()));
  }
}
