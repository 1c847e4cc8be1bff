// Home Assistant's MQTT discovery, as Home Assistant itself implements it, for tests: what it accepts
// as a discovery message (topic, payload, keys per component) and what its entities do with a message
// (a switch's state, an event's type, a command's payload). Templates are rendered by the real Jinja2
// (python3-jinja2, scripts/setup.sh) in the sandbox Home Assistant uses.
//
// Sources (home-assistant/core, homeassistant/components/mqtt/ unless named):
// - discovery.py async_start: what Home Assistant subscribes to, so which discovery topics it receives at all
//   (HA_SUBSCRIPTIONS below); a message on any other topic never reaches it.
// - discovery.py: TOPIC_MATCHER `(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config`
//   after `<prefix>/`; payload parsed by json_loads_object (a JSON object); an empty payload removes the
//   entity; `~` in a key ending in `topic` (and in availability[].topic) is replaced by the `~` value when
//   it starts or ends the value (_replace_topic_base).
// - config.py: MQTT_RO_SCHEMA (state_topic Required, valid_subscribe_topic; value_template),
//   MQTT_RW_SCHEMA (command_topic Required, valid_publish_topic; optimistic; retain; state_topic),
//   SCHEMA_BASE (qos In [0,1,2]; encoding).
// - schemas.py: MQTT_ENTITY_COMMON_SCHEMA (availability_topic Exclusive with availability; payload_available
//   default "online", payload_not_available default "offline"; device with at least one of identifiers /
//   connections; origin with name Required; unique_id, object_id, icon, enabled_by_default, ...).
// - switch.py: payload_on "ON" / payload_off "OFF" defaults, state_on/state_off default to them; the rendered
//   value_template is compared with state_on/state_off; turn_on publishes payload_on (command_template
//   unset) with the configured qos and retain.
// - sensor.py: unit_of_measurement, device_class, state_class, expire_after, force_update, options (enum
//   sensors only), suggested_display_precision; a unit outside DEVICE_CLASS_UNITS of the device class is
//   refused (logged as "will stop working", so refused here); the state is the rendered value_template.
// - event.py: event_types Required; the value_template output must be a JSON object with `event_type`,
//   one of event_types; retained messages are ignored.
// - util.py: valid_topic (UTF-8, 1..65535 bytes, no NUL, no control or non-characters), valid_publish_topic
//   (no + or #), valid_subscribe_topic (wildcards only as whole levels, # last).
// - helpers/template.py async_render_with_possible_json_value: variables `value` (the payload text) and
//   `value_json` (the payload parsed as JSON, when it parses); ImmutableSandboxedEnvironment; result stripped.
//
// Stricter than Home Assistant on purpose: its DISCOVERY_SCHEMA drops unknown keys silently
// (extra=REMOVE_EXTRA), so a misspelt key would be lost without a word; this double refuses it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { z } from "zod";
import { HA_DISCOVERY_FILTERS } from "../../protocol";
import { topicMatches } from "./mosquitto-acl-double";

/**
 * The filters Home Assistant's discovery subscribes to on its broker connection (discovery.py async_start), by
 * release. current: HA_DISCOVERY_FILTERS (per component since home-assistant/core#119974, 2024.7; protocol/
 * homeassistant.ts holds the list and its source). older: the wildcard pair (home-assistant/core#45456, 2021.2,
 * until 2024.6), still in use on 2023.8-2024.6, which the README supports (2023.8: the event entity).
 */
export const HA_SUBSCRIPTIONS = {
  current: HA_DISCOVERY_FILTERS,
  older: ["homeassistant/+/+/config", "homeassistant/+/+/+/config"],
} as const satisfies Record<string, readonly string[]>;
export type HaRelease = keyof typeof HA_SUBSCRIPTIONS;
export const HA_RELEASES = Object.keys(HA_SUBSCRIPTIONS) as HaRelease[];

/** Whether Home Assistant of that release receives a message on this topic through its discovery subscriptions. */
export const subscribedTo = (topic: string, release: HaRelease): boolean =>
  HA_SUBSCRIPTIONS[release].some((f) => topicMatches(f, topic));

/** homeassistant/components/sensor/const.py DEVICE_CLASS_UNITS, for the classes we use. */
const DEVICE_CLASS_UNITS: Record<string, readonly string[]> = { temperature: ["°C", "°F", "K"] };
const TOPIC_MATCHER = /^(?<component>\w+)\/(?:(?<node>[a-zA-Z0-9_-]+)\/)?(?<object>[a-zA-Z0-9_-]+)\/config$/;

function topicProblem(t: string): string | undefined {
  const bytes = Buffer.byteLength(t, "utf8");
  if (bytes === 0) return "MQTT topic name/filter must not be empty.";
  if (bytes > 65535) return "MQTT topic name/filter must not be longer than 65535 encoded bytes.";
  for (const ch of t) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0) return "MQTT topic name/filter must not contain null character.";
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return "MQTT topic name/filter must not contain control characters.";
    if ((c >= 0xfdd0 && c <= 0xfdef) || (c & 0xffff) === 0xfffe || (c & 0xffff) === 0xffff)
      return "MQTT topic name/filter must not contain non-characters.";
  }
  return undefined;
}

const subscribeTopic = z.string().superRefine((t, ctx) => {
  const p = topicProblem(t);
  if (p) return ctx.addIssue({ code: "custom", message: p });
  for (let i = 0; i < t.length; i++) {
    if (t[i] !== "+") continue;
    if ((i > 0 && t[i - 1] !== "/") || (i < t.length - 1 && t[i + 1] !== "/"))
      ctx.addIssue({ code: "custom", message: "Single-level wildcard must occupy an entire level of the filter" });
  }
  const h = t.indexOf("#");
  if (h !== -1 && (h !== t.length - 1 || (t.length > 1 && t[h - 1] !== "/")))
    ctx.addIssue({ code: "custom", message: "Multi-level wildcard must be the last level of the filter" });
});
const publishTopic = z.string().superRefine((t, ctx) => {
  const p = topicProblem(t);
  if (p) ctx.addIssue({ code: "custom", message: p });
  else if (/[+#]/.test(t)) ctx.addIssue({ code: "custom", message: "Wildcards cannot be used in topic names" });
});
const template = z.string().min(1);
const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

const device = z
  .strictObject({
    identifiers: z.union([z.string(), z.array(z.string())]).optional(),
    connections: z.array(z.tuple([z.string(), z.string()])).optional(),
    manufacturer: z.string().optional(),
    model: z.string().optional(),
    model_id: z.string().optional(),
    name: z.string().optional(),
    hw_version: z.string().optional(),
    serial_number: z.string().optional(),
    sw_version: z.string().optional(),
    via_device: z.string().optional(),
    suggested_area: z.string().optional(),
    configuration_url: z.url().optional(),
  })
  .refine((d) => (d.identifiers?.length ?? 0) > 0 || (d.connections?.length ?? 0) > 0, {
    message: "Device must have at least one identifying value in 'identifiers' and/or 'connections'",
  });

const common = {
  qos: qos.optional(),
  encoding: z.string().optional(),
  availability_topic: subscribeTopic.optional(),
  availability_template: template.optional(),
  availability_mode: z.enum(["all", "any", "latest"]).optional(),
  availability: z
    .array(
      z.strictObject({
        topic: subscribeTopic,
        payload_available: z.string().optional(),
        payload_not_available: z.string().optional(),
        value_template: template.optional(),
      }),
    )
    .optional(),
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  device: device.optional(),
  entity_picture: z.url().optional(),
  origin: z
    .strictObject({ name: z.string(), sw_version: z.string().optional(), support_url: z.url().optional() })
    .optional(),
  enabled_by_default: z.boolean().optional(),
  entity_category: z.enum(["config", "diagnostic"]).optional(),
  icon: z
    .string()
    .regex(/^[\w-]+:[\w-]+$/)
    .optional(),
  json_attributes_topic: subscribeTopic.optional(),
  json_attributes_template: template.optional(),
  object_id: z.string().optional(),
  unique_id: z.string().optional(),
  name: z.string().nullable().optional(),
};

const SCHEMAS = {
  switch: z.strictObject({
    ...common,
    command_topic: publishTopic,
    state_topic: subscribeTopic.optional(),
    optimistic: z.boolean().optional(),
    retain: z.boolean().optional(),
    command_template: template.optional(),
    payload_on: z.string().optional(),
    payload_off: z.string().optional(),
    state_on: z.string().optional(),
    state_off: z.string().optional(),
    value_template: template.optional(),
    device_class: z.enum(["outlet", "switch"]).nullable().optional(),
  }),
  sensor: z
    .strictObject({
      ...common,
      state_topic: subscribeTopic,
      value_template: template.optional(),
      device_class: z.string().nullable().optional(),
      expire_after: z.number().int().positive().optional(),
      force_update: z.boolean().optional(),
      last_reset_value_template: template.optional(),
      options: z.array(z.string()).optional(),
      suggested_display_precision: z.number().int().min(0).optional(),
      state_class: z.enum(["measurement", "measurement_angle", "total", "total_increasing"]).nullable().optional(),
      unit_of_measurement: z.string().nullable().optional(),
    })
    .superRefine((c, ctx) => {
      const units = c.device_class ? DEVICE_CLASS_UNITS[c.device_class] : undefined;
      if (units && c.unit_of_measurement != null && !units.includes(c.unit_of_measurement))
        ctx.addIssue({
          code: "custom",
          message: `The unit of measurement \`${c.unit_of_measurement}\` is not valid together with device class \`${c.device_class}\``,
        });
      if (c.options !== undefined && (c.state_class || c.unit_of_measurement))
        ctx.addIssue({
          code: "custom",
          message: "options is not allowed together with state_class or unit_of_measurement",
        });
    }),
  event: z.strictObject({
    ...common,
    state_topic: subscribeTopic,
    value_template: template.optional(),
    device_class: z.enum(["button", "doorbell", "motion"]).optional(),
    event_types: z.array(z.string()),
  }),
} as const;

export type DiscoveredComponent = keyof typeof SCHEMAS;

export interface Discovered {
  component: DiscoveredComponent;
  nodeId?: string;
  objectId: string;
  /** The config after `~` expansion, as Home Assistant's platform receives it; undefined: a removal. */
  config?: Record<string, unknown>;
}

/** discovery.py _replace_topic_base. */
function replaceTopicBase(payload: Record<string, unknown>): void {
  const base = payload["~"];
  delete payload["~"];
  if (typeof base !== "string") return;
  for (const [k, v] of Object.entries(payload)) {
    if (typeof v !== "string" || !v || !k.endsWith("topic")) continue;
    if (v.startsWith("~")) payload[k] = `${base}${v.slice(1)}`;
    if (v.endsWith("~")) payload[k] = `${v.slice(0, -1)}${base}`;
  }
  if (Array.isArray(payload.availability)) {
    for (const a of payload.availability as Record<string, unknown>[]) {
      const t = typeof a?.topic === "string" ? a.topic : "";
      if (t.startsWith("~")) a.topic = `${base}${t.slice(1)}`;
      if (t.endsWith("~")) a.topic = `${t.slice(0, -1)}${base}`;
    }
  }
}

/**
 * Reads one message on a discovery topic the way Home Assistant of that release does (default: current); throws
 * with Home Assistant's reason, or because its subscriptions never deliver that topic.
 */
export function discover(topic: string, payload: string, release: HaRelease = "current"): Discovered {
  if (!subscribedTo(topic, release))
    throw new Error(`${topic}: Home Assistant (${release} releases) does not subscribe to it, so never receives it`);
  const m = TOPIC_MATCHER.exec(topic.slice("homeassistant/".length));
  if (!m?.groups) throw new Error(`Received message on illegal discovery topic '${topic}'`);
  const component = m.groups.component as string;
  if (!(component in SCHEMAS)) throw new Error(`Integration ${component} is not supported by this double`);
  const base = {
    component: component as DiscoveredComponent,
    objectId: m.groups.object as string,
    ...(m.groups.node ? { nodeId: m.groups.node } : {}),
  };
  if (payload === "") return base;
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    throw new Error(`Unable to parse JSON ${base.objectId}: '${payload}'`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new Error(`Unable to parse JSON ${base.objectId}: not an object`);
  const config = data as Record<string, unknown>;
  if ("~" in config) replaceTopicBase(config);
  const schema = SCHEMAS[base.component];
  const r = schema.safeParse(config);
  if (!r.success) throw new Error(`${topic}: ${z.prettifyError(r.error)}`);
  if (config.availability_topic !== undefined && config.availability !== undefined)
    throw new Error(`${topic}: availability_topic and availability are exclusive`);
  return { ...base, config };
}

/** Debian's python3 (python3-jinja2 from scripts/setup.sh), not whatever python3 a PATH puts first. */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/**
 * Renders Home Assistant value templates against payloads with the real Jinja2, in one python3 run.
 * null: the template failed (Home Assistant logs it and the message changes nothing). Rendering is pure, so
 * each (template, payload) runs python3 once: tests that poll a growing list of messages stay O(messages).
 */
export function renderTemplates(jobs: readonly { template: string; payload: string }[]): (string | null)[] {
  const key = (j: { template: string; payload: string }) => JSON.stringify([j.template, j.payload]);
  const todo = [...new Map(jobs.filter((j) => !rendered.has(key(j))).map((j) => [key(j), j])).values()];
  if (todo.length > 0) {
    const outs = runJinja(todo);
    todo.forEach((j, i) => rendered.set(key(j), outs[i] ?? null));
  }
  return jobs.map((j) => rendered.get(key(j)) ?? null);
}

const rendered = new Map<string, string | null>();

function runJinja(jobs: readonly { template: string; payload: string }[]): (string | null)[] {
  const script = `
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment()
out = []
for job in json.load(sys.stdin):
    variables = {"value": job["payload"]}
    try:
        variables["value_json"] = json.loads(job["payload"])
    except ValueError:
        pass
    try:
        out.append(env.from_string(job["template"]).render(**variables).strip())
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)
`;
  const r = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(jobs), encoding: "utf8" });
  if (r.error || r.status !== 0)
    throw new Error(
      `python3 with jinja2 (scripts/setup.sh test installs python3-jinja2): ${r.error?.message ?? r.stderr}`,
    );
  return JSON.parse(r.stdout) as (string | null)[];
}

const str = (v: unknown, fallback: string) => (typeof v === "string" ? v : fallback);

/** switch.py: what the switch reads from a state message: true (on), false (off) or undefined (no change). */
export function switchStateFrom(config: Record<string, unknown>, payload: string): boolean | undefined {
  const rendered =
    typeof config.value_template === "string"
      ? renderTemplates([{ template: config.value_template, payload }])[0]
      : payload;
  if (rendered === null || rendered === undefined) return undefined;
  const on = str(config.state_on, str(config.payload_on, "ON"));
  const off = str(config.state_off, str(config.payload_off, "OFF"));
  if (rendered === on) return true;
  if (rendered === off) return false;
  return undefined;
}

/** switch.py async_turn_on/off: the message the switch publishes. */
export function switchCommand(
  config: Record<string, unknown>,
  on: boolean,
): { topic: string; payload: string; qos: number; retain: boolean } {
  if (config.command_template !== undefined) throw new Error("command_template is not modelled by this double");
  return {
    topic: str(config.command_topic, ""),
    payload: on ? str(config.payload_on, "ON") : str(config.payload_off, "OFF"),
    qos: typeof config.qos === "number" ? config.qos : 0,
    retain: config.retain === true,
  };
}

/** sensor.py: the state a reading gives the sensor (the rendered value_template). */
export function sensorStateFrom(config: Record<string, unknown>, payload: string): string | undefined {
  if (typeof config.value_template !== "string") return payload;
  return renderTemplates([{ template: config.value_template, payload }])[0] ?? undefined;
}

/** event.py _event_received: the event type a message triggers, or undefined when it is ignored. */
export function eventFrom(config: Record<string, unknown>, payload: string, retained: boolean): string | undefined {
  if (retained) return undefined;
  const rendered =
    typeof config.value_template === "string"
      ? renderTemplates([{ template: config.value_template, payload }])[0]
      : payload;
  if (!rendered || rendered === "None" || rendered === "{}") return undefined;
  let data: unknown;
  try {
    data = JSON.parse(rendered);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null || !("event_type" in data)) return undefined;
  const type = String((data as { event_type: unknown }).event_type);
  return (config.event_types as string[]).includes(type) ? type : undefined;
}

/** schemas.py availability defaults: what a status message means for the entity. */
export function availableFrom(config: Record<string, unknown>, payload: string): boolean | undefined {
  if (payload === str(config.payload_available, "online")) return true;
  if (payload === str(config.payload_not_available, "offline")) return false;
  return undefined;
}
