// What each broker the protocol runs on accepts. The protocol stays inside the smaller of the two, so one
// set of topics, payloads, QoS and client ids works on mosquitto (the default) and on AWS IoT Core alike;
// test/unit/protocol-limits.test.ts checks every topic, filter, payload and client id the protocol can
// produce against both.
//
// Sources:
// - MQTT 5.0 (OASIS) 1.5.4 "UTF-8 Encoded String": at most 65,535 bytes (topic names, filters, client ids);
//   4.3 QoS 0, 1 and 2. mosquitto implements all of it; mosquitto.conf(5) documents no topic depth or
//   subscription count limit. The payload limit is ours: infra/render/mosquitto.ts sets
//   message_size_limit to MAX_PAYLOAD_BYTES (and max_packet_size to 4 x that).
// - AWS General Reference, "AWS IoT Core endpoints and quotas" (docs.aws.amazon.com/general/latest/gr/
//   iot-core.html), message broker quotas: "Maximum number of slashes in topic and topic filter" 7 (a topic
//   or filter has at most 8 levels); "Topic size" 256 bytes of UTF-8; "Message size" 128 KB; "Client ID
//   size" 128 bytes of UTF-8; "Subscriptions per connection" 50; "Maximum subscriptions per subscribe call"
//   8. The AWS IoT Device SDKs check the same numbers client-side (awslabs/aws-crt-nodejs
//   lib/common/mqtt5.ts ClientExtendedValidationAndFlowControl.AwsIotCoreDefaults: "No more than 8
//   subscriptions per SUBSCRIBE packet; Topics and topic filters have a maximum of 7 slashes (8 segments),
//   not counting any AWS rules prefix; Topics must be <= 256 bytes in length; Client id must be <= 128
//   bytes in length").
// - AWS IoT Core Developer Guide, "MQTT" > "MQTT Quality of Service (QoS) options" and "AWS IoT differences
//   from MQTT specifications" (iot/latest/developerguide/mqtt.html): QoS 0 and 1 only; a QoS 2 PUBLISH or
//   SUBSCRIBE gets no PUBACK/SUBACK. "MQTT retained messages": supported, each publish with RETAIN needs
//   iot:RetainPublish besides iot:Publish; retained messages are replayed to a new subscription on the
//   exact topic only, never to a wildcard filter (load them with ListRetainedMessages/GetRetainedMessage).
// - AWS IoT Core Developer Guide, "MQTT topics" > "Reserved topics" (topics.html#reserved-topics): topics
//   that begin with `$` are reserved for AWS IoT; a client cannot publish to them.
import { MAX_PAYLOAD_BYTES } from "./payloads";

export type BrokerKind = "mosquitto" | "iot-core";
export const BROKER_KINDS: readonly BrokerKind[] = ["mosquitto", "iot-core"];

export interface BrokerLimits {
  /** Largest topic name or filter, in UTF-8 bytes. */
  maxTopicBytes: number;
  /** Most levels ('/'-separated segments) in a topic name or filter. */
  maxTopicLevels: number;
  /** Largest PUBLISH payload, in bytes, as this project runs the broker. */
  maxPayloadBytes: number;
  /** Highest QoS the broker accepts on PUBLISH and SUBSCRIBE. */
  maxQos: 0 | 1 | 2;
  /** Longest client id, in UTF-8 bytes. */
  maxClientIdBytes: number;
  /** Most subscriptions one connection may hold. */
  maxSubscriptionsPerConnection: number;
  /** Most topic filters in one SUBSCRIBE packet. */
  maxFiltersPerSubscribe: number;
  /** Whether the broker stores retained messages (both do; IoT Core needs iot:RetainPublish for them). */
  retains: boolean;
  /** Whether a new wildcard subscription gets the retained messages it matches (IoT Core: exact topics only). */
  replaysRetainedToWildcards: boolean;
  /** Topics under this prefix belong to the broker; a client's own topics must not start with it. */
  reservedPrefix: string | undefined;
}

const MQTT_STRING_BYTES = 65_535;

export const BROKER_LIMITS: Readonly<Record<BrokerKind, BrokerLimits>> = {
  mosquitto: {
    maxTopicBytes: MQTT_STRING_BYTES,
    maxTopicLevels: Number.POSITIVE_INFINITY,
    maxPayloadBytes: MAX_PAYLOAD_BYTES,
    maxQos: 2,
    maxClientIdBytes: MQTT_STRING_BYTES,
    maxSubscriptionsPerConnection: Number.POSITIVE_INFINITY,
    maxFiltersPerSubscribe: Number.POSITIVE_INFINITY,
    retains: true,
    replaysRetainedToWildcards: true,
    // MQTT 5.0 4.7.2: topics beginning with $ are the server's ($SYS: mosquitto(8) "Broker Status").
    reservedPrefix: "$",
  },
  "iot-core": {
    maxTopicBytes: 256,
    maxTopicLevels: 8,
    maxPayloadBytes: 128 * 1024,
    maxQos: 1,
    maxClientIdBytes: 128,
    maxSubscriptionsPerConnection: 50,
    maxFiltersPerSubscribe: 8,
    retains: true,
    replaysRetainedToWildcards: false,
    reservedPrefix: "$",
  },
};

/** The QoS of every message and subscription of the protocol: the highest both brokers accept. */
export const PROTOCOL_QOS = 1 as const;

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8");

/**
 * Why `broker` would refuse `topic` (a name or a filter) from one of our clients; undefined when it takes it.
 * `publish`: the client publishes to it (the broker's reserved `$` tree is for subscribing only).
 */
export function topicProblem(broker: BrokerKind, topic: string, opts: { publish?: boolean } = {}): string | undefined {
  const l = BROKER_LIMITS[broker];
  const what = `${broker}: topic ${JSON.stringify(topic)}`;
  if (topic === "") return `${what} is empty`;
  if (utf8Bytes(topic) > l.maxTopicBytes) return `${what} is ${utf8Bytes(topic)} bytes; at most ${l.maxTopicBytes}`;
  const levels = topic.split("/").length;
  if (levels > l.maxTopicLevels) return `${what} has ${levels} levels; at most ${l.maxTopicLevels}`;
  if (opts.publish && l.reservedPrefix !== undefined && topic.startsWith(l.reservedPrefix))
    return `${what} starts with ${l.reservedPrefix}, which the broker reserves`;
  return undefined;
}

export function clientIdProblem(broker: BrokerKind, clientId: string): string | undefined {
  const l = BROKER_LIMITS[broker];
  if (clientId === "") return `${broker}: client id must not be empty`;
  const n = utf8Bytes(clientId);
  if (n > l.maxClientIdBytes)
    return `${broker}: client id ${JSON.stringify(clientId)} is ${n} bytes; at most ${l.maxClientIdBytes}`;
  return undefined;
}

export function payloadProblem(broker: BrokerKind, payload: string | Buffer): string | undefined {
  const l = BROKER_LIMITS[broker];
  const n = typeof payload === "string" ? utf8Bytes(payload) : payload.length;
  return n > l.maxPayloadBytes ? `${broker}: payload of ${n} bytes; at most ${l.maxPayloadBytes}` : undefined;
}

/** Why one connection's subscriptions (filters, and how they are split into SUBSCRIBE packets) would be refused. */
export function subscriptionsProblem(broker: BrokerKind, packets: readonly (readonly string[])[]): string | undefined {
  const l = BROKER_LIMITS[broker];
  const total = packets.reduce((n, p) => n + p.length, 0);
  if (total > l.maxSubscriptionsPerConnection)
    return `${broker}: ${total} subscriptions on one connection; at most ${l.maxSubscriptionsPerConnection}`;
  const big = packets.find((p) => p.length > l.maxFiltersPerSubscribe);
  if (big) return `${broker}: ${big.length} filters in one SUBSCRIBE; at most ${l.maxFiltersPerSubscribe}`;
  return undefined;
}
