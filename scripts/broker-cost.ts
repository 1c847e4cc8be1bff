// What the broker costs a month: AWS IoT Core's usage prices against the micro instance the stack runs anyway, and
// the fleet size where they cross. Pure arithmetic from the prices below; README "Two brokers" prints
// `npm run cost`'s table, and test/unit/broker-cost.test.ts holds the README to it.
//
// Prices, US East (N. Virginia), USD, as published (read 2026-11-30):
// - AWS IoT Core pricing (aws.amazon.com/iot-core/pricing/): connectivity $0.08 per million minutes of connection,
//   metered by the minute; messaging $1.00 per million messages for the first billion a month ($0.80 for the next
//   4 billion, $0.70 beyond), metered in 5 KB increments; the page's own worked example multiplies exactly so
//   (minutes x $0.08/1,000,000, messages x $1.00/1,000,000). Registry, Device Shadow and rules are not used at run
//   time by this stack (things and policies are created once, at `pulumi up`).
// - AWS IoT Core "additional metering details" (aws.amazon.com/iot-core/pricing/additional-details/): PUBLISH
//   received from a device and PUBLISH sent by the service are each metered; a PUBLISH with RETAIN is metered
//   again as MQTT RETAINED; a PUBACK received from a client is metered (MQTT 5: by its size, so one message);
//   PINGREQ/PINGRESP, CONNACK, SUBACK and the service's PUBACK are free. HTTP requests (the retained-message API,
//   which GetRetainedMessage's API reference says "can incur messaging costs") are metered by 5 KB of body.
// - Amazon EC2 On-Demand pricing (aws.amazon.com/ec2/pricing/on-demand/), Linux: t3.micro $0.0104 and t4g.micro
//   $0.0084 per hour; public IPv4 address (the Elastic IP) $0.005 per hour ("New – AWS Public IPv4 Address Charge",
//   AWS News Blog, 2023-07-28, in force since 2024-02-01); Amazon EBS pricing (aws.amazon.com/ebs/pricing/): gp3
//   $0.08 per GB-month. Snapshots of the history volume and data transfer are left out (both modes pay them).
// A month is 730 hours, as the AWS Pricing Calculator counts it.

export const HOURS_PER_MONTH = 730;
export const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;

export const IOT_CORE_PRICES = {
  /** USD per connection-minute. */
  connectionMinute: 0.08 / 1e6,
  /** USD per metered message, by monthly volume: [up to messages, price per message]. */
  messageTiers: [
    [1e9, 1.0 / 1e6],
    [5e9, 0.8 / 1e6],
    [Number.POSITIVE_INFINITY, 0.7 / 1e6],
  ] as const,
} as const;

export const EC2_PRICES = {
  /** USD per hour, Linux on-demand. */
  instanceHour: { "t3.micro": 0.0104, "t4g.micro": 0.0084 },
  publicIpv4Hour: 0.005,
  gp3GbMonth: 0.08,
} as const;

export type MicroType = keyof typeof EC2_PRICES.instanceHour;

/** infra/server.ts rootBlockDevice volumeSize, and the historyVolumeGiB default (infra/config/keys.ts). */
export const ROOT_GIB = 10;
export const HISTORY_GIB = 2;

/** The server a month: the instance, its Elastic IP, the root and history volumes. Both broker modes pay it. */
export function microMonthly(type: MicroType): number {
  return (
    (EC2_PRICES.instanceHour[type] + EC2_PRICES.publicIpv4Hour) * HOURS_PER_MONTH +
    (ROOT_GIB + HISTORY_GIB) * EC2_PRICES.gp3GbMonth
  );
}

/**
 * Metered messages per message a device publishes (every payload of the protocol is far below 5 KB): its PUBLISH,
 * the RETAINED metering (state, status and readings are retained), the delivery to each subscriber (the web app;
 * Home Assistant never: the config refuses it with IoT Core) and that subscriber's MQTT 5 PUBACK (QoS 1).
 */
export function meteredPerPublish(subscribers: number): number {
  return 1 + 1 + 2 * subscribers;
}

export interface FleetUsage {
  devices: number;
  /** Messages each device publishes a minute (state, readings, input events). */
  messagesPerMinute: number;
  /** Clients that receive every device message: the web app (1; Home Assistant cannot use IoT Core). */
  subscribers?: number;
  /** Web app starts a month: each reads every retained topic through the retained-message API (two per device). */
  webStartsPerMonth?: number;
}

/** USD for `messages` metered messages in one month, through the volume tiers. */
export function messagingCost(messages: number): number {
  let cost = 0;
  let counted = 0;
  for (const [upTo, price] of IOT_CORE_PRICES.messageTiers) {
    const inTier = Math.max(0, Math.min(messages, upTo) - counted);
    cost += inTier * price;
    counted += inTier;
  }
  return cost;
}

/** IoT Core a month for a fleet, each device and the web app connected all month. */
export function iotCoreMonthly(u: FleetUsage): number {
  const subscribers = u.subscribers ?? 1;
  const connections = u.devices + subscribers;
  const published = u.devices * u.messagesPerMinute * MINUTES_PER_MONTH;
  // ListRetainedMessages pages of 200 topics and one GetRetainedMessage per topic, each one message.
  const retainedTopics = 2 * u.devices;
  const api = (u.webStartsPerMonth ?? 30) * (Math.ceil(retainedTopics / 200) + retainedTopics);
  return (
    connections * MINUTES_PER_MONTH * IOT_CORE_PRICES.connectionMinute +
    messagingCost(published * meteredPerPublish(subscribers) + api)
  );
}

/**
 * The largest fleet for which IoT Core costs less a month than the micro instance would as a broker of its own;
 * 0 when even one device costs more.
 */
export function breakEvenDevices(type: MicroType, messagesPerMinute: number): number {
  const micro = microMonthly(type);
  const at = (devices: number) => iotCoreMonthly({ devices, messagesPerMinute });
  if (at(1) >= micro) return 0;
  let lo = 1;
  let hi = 2;
  while (at(hi) < micro) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) < micro) lo = mid;
    else hi = mid;
  }
  return lo;
}

const usd = (x: number) => `$${x < 10 ? x.toFixed(2) : Math.round(x).toLocaleString("en-US")}`;

/** Message rates the README compares, as (label, messages per device a minute). */
export const RATES: readonly [string, number][] = [
  ["1 a minute", 1],
  ["1 every 10 minutes", 0.1],
  ["1 an hour", 1 / 60],
];
export const FLEETS: readonly number[] = [10, 100, 1_000, 10_000];

/** The README's table: IoT Core a month by fleet size and message rate, the micro, and where they cross. */
export function costTable(): string {
  const rows = [
    `| messages per device | ${FLEETS.map((n) => `${n.toLocaleString("en-US")} devices`).join(" | ")} | IoT Core cheaper than a t3.micro (${usd(microMonthly("t3.micro"))}) / t4g.micro (${usd(microMonthly("t4g.micro"))}) up to |`,
    `| --- | ${FLEETS.map(() => "---").join(" | ")} | --- |`,
    ...RATES.map(
      ([label, rate]) =>
        `| ${label} | ${FLEETS.map((devices) => usd(iotCoreMonthly({ devices, messagesPerMinute: rate }))).join(" | ")} | ${breakEvenDevices("t3.micro", rate).toLocaleString("en-US")} / ${breakEvenDevices("t4g.micro", rate).toLocaleString("en-US")} devices |`,
    ),
  ];
  return rows.join("\n");
}

if (require.main === module) console.log(costTable());
