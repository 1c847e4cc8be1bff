// Home Assistant MQTT discovery: the retained config messages that make every configured output,
// input (and sensor) appear in Home Assistant, rendered from the same device definitions as the page.
// Pure: the web app publishes them at run time (apps/web/homeassistant.ts), the broker ACL grants
// their topics (protocol/acl.ts), tests check them against Home Assistant's own schema rules
// (test/unit/homeassistant-double.ts, in homeassistant-discovery.test.ts).
//
// Home Assistant's side, as its MQTT integration documents it (home-assistant.io/integrations/mqtt,
// "MQTT Discovery") and implements it (home-assistant/core homeassistant/components/mqtt/discovery.py):
// - it subscribes to `<prefix>/+/+/config` and `<prefix>/+/+/+/config` (older releases) or to two such filters per
//   component it supports plus two for device-based discovery (current releases: HA_DISCOVERY_FILTERS), default
//   prefix `homeassistant`;
//   the topic is `<prefix>/<component>/[<node_id>/]<object_id>/config`, ids `[a-zA-Z0-9_-]+`;
// - a retained config creates or updates the entity, an empty retained payload removes it;
// - on (re)connect it publishes its birth message `online` to `homeassistant/status`.
import { InputPayload } from "./payloads";
import { topics } from "./topics";

export const HA_DISCOVERY_PREFIX = "homeassistant";
/**
 * The components Home Assistant's MQTT discovery supports, as home-assistant/core lists them in
 * homeassistant/components/mqtt/const.py SUPPORTED_COMPONENTS (read at commit 0190dc16a642, a 2025/2026 release:
 * its const.py plans the config entry's 2.1 format for 2026.7). Releases add components; none were removed.
 */
export const HA_SUPPORTED_COMPONENTS: readonly string[] = [
  "alarm_control_panel",
  "binary_sensor",
  "button",
  "camera",
  "climate",
  "cover",
  "date",
  "datetime",
  "device_automation",
  "device_tracker",
  "event",
  "fan",
  "humidifier",
  "image",
  "lawn_mower",
  "light",
  "lock",
  "notify",
  "number",
  "scene",
  "siren",
  "select",
  "sensor",
  "switch",
  "tag",
  "text",
  "time",
  "update",
  "vacuum",
  "valve",
  "water_heater",
];
/**
 * What current Home Assistant subscribes to on its one broker connection to find discovery configs, in its order:
 * `<prefix>/<component>/+/config` for each supported component, then `<prefix>/<component>/+/+/config` for each,
 * then the same pair for device-based discovery, `<prefix>/device/+/config` and `<prefix>/device/+/+/config`
 * (home-assistant/core mqtt/discovery.py async_start, `chain(...)` of the three; its test
 * tests/components/mqtt/test_discovery.py test_subscribing_config_topic asserts the per-component pairs). 64
 * filters: more than AWS IoT Core's 50 subscriptions per connection (protocol/limits.ts), so Home Assistant needs
 * broker mosquitto.
 */
export const HA_DISCOVERY_FILTERS: readonly string[] = [
  ...HA_SUPPORTED_COMPONENTS.map((c) => `${HA_DISCOVERY_PREFIX}/${c}/+/config`),
  ...HA_SUPPORTED_COMPONENTS.map((c) => `${HA_DISCOVERY_PREFIX}/${c}/+/+/config`),
  `${HA_DISCOVERY_PREFIX}/device/+/config`,
  `${HA_DISCOVERY_PREFIX}/device/+/+/config`,
];
/** Home Assistant's default birth (and Last Will) topic: `online` / `offline`. */
export const HA_STATUS_TOPIC = `${HA_DISCOVERY_PREFIX}/status`;
export const HA_BIRTH_PAYLOAD = "online";
/**
 * One node id for every config this stack publishes. Per-device node ids would need the web app's
 * ACL to name each device, and then it could not clear the configs of a device that left the stack.
 */
export const HA_NODE_ID = "diy-device-cloud";
/** What Home Assistant shows as the software that announced the entities (discovery `origin`). */
export const HA_ORIGIN_NAME = "DIY Device Cloud";

/**
 * Components this stack announces: an output is a `switch`, an input an `event` (its messages are
 * edges, `pressed`/`released`, never retained: Home Assistant's event entity is made for that, where a
 * `binary_sensor` would read "unknown" after every Home Assistant restart until the next edge), a sensor
 * a `sensor`. Every component ever announced stays listed here, so the web app can still clear old configs.
 */
export const HA_COMPONENTS = ["switch", "event", "sensor"] as const;
export type HaComponent = (typeof HA_COMPONENTS)[number];

/**
 * The request id in Home Assistant's commands. A switch sends one fixed payload per state
 * (payload_on/payload_off), so every command carries the same req; the device echoes it in its state,
 * and the page can tell a change made from Home Assistant.
 */
export const HA_COMMAND_REQ = "homeassistant";

/** Home Assistant's topic id characters (discovery.py TOPIC_MATCHER). */
const HA_ID = /^[a-zA-Z0-9_-]+$/;

export const haTopics = {
  /** The retained discovery config of one entity. */
  config: (component: HaComponent, objectId: string) =>
    `${HA_DISCOVERY_PREFIX}/${component}/${HA_NODE_ID}/${objectId}/config`,
  /** Every config this stack may have published, one filter per component (web app: publish and clear). */
  ourConfigs: (): string[] => HA_COMPONENTS.map((c) => `${HA_DISCOVERY_PREFIX}/${c}/${HA_NODE_ID}/+/config`),
} as const;

/** Reads one of our discovery topics back; undefined for any other topic. */
export function parseDiscoveryTopic(topic: string): { component: HaComponent; objectId: string } | undefined {
  const parts = topic.split("/");
  if (parts.length !== 5 || parts[0] !== HA_DISCOVERY_PREFIX || parts[2] !== HA_NODE_ID || parts[4] !== "config")
    return undefined;
  const component = HA_COMPONENTS.find((c) => c === parts[1]);
  const objectId = parts[3] ?? "";
  if (!component || !HA_ID.test(objectId)) return undefined;
  return { component, objectId };
}

/** One device as Home Assistant sees it. */
export interface HaDevice {
  /** Device id: topic segment and certificate CN. */
  id: string;
  /** Name shown in Home Assistant (the page's label, or the id). */
  name: string;
  /** Model line in Home Assistant's device page, e.g. the board. */
  model: string;
  /** Id of the bridge board a child device talks through (Home Assistant's via_device). */
  via?: string;
  outputs: readonly string[];
  inputs: readonly string[];
  /** Numeric sensors and the unit each publishes with (none: Home Assistant shows the value as text). */
  sensors?: readonly { name: string; unit?: string }[];
}

/** Home Assistant's temperature units (sensor DEVICE_CLASS_UNITS[temperature]): such a sensor gets that class. */
export const HA_TEMPERATURE_UNITS: readonly string[] = ["°C", "°F", "K"];

export interface HaDiscoveryInput {
  devices: readonly HaDevice[];
}

export interface HaDiscoveryConfig {
  component: HaComponent;
  objectId: string;
  topic: string;
  /** The config message, as published (retained); at most MAX_PAYLOAD_BYTES, like every payload. */
  payload: string;
}

/** Home Assistant device identifier of one of our devices. */
export const haDeviceIdentifier = (deviceId: string) => `${HA_NODE_ID}_${deviceId}`;

// A device id has no '_' (ids.ts), so the first '_' splits device and name: object ids cannot collide.
const objectId = (deviceId: string, name: string) => `${deviceId}_${name}`;

/** `{"value":"on","req":"homeassistant"}`: a command protocol/payloads.ts CommandPayload accepts. */
export function haCommandPayload(value: "on" | "off"): string {
  return JSON.stringify({ value, req: HA_COMMAND_REQ });
}

/**
 * Every discovery config of a stack, in device order: outputs, then inputs. Topics use Home
 * Assistant's documented base topic `~` (= `devices/<id>`; discovery.py _replace_topic_base expands it
 * in every `*_topic` key), which keeps a config with the longest ids and label under the protocol's
 * payload limit.
 */
export function haDiscoveryConfigs(input: HaDiscoveryInput): HaDiscoveryConfig[] {
  const out: HaDiscoveryConfig[] = [];
  const add = (component: HaComponent, d: HaDevice, name: string, topicsOf: Record<string, string>, body: object) => {
    if (!HA_ID.test(d.id) || !HA_ID.test(name)) throw new Error(`not a Home Assistant id: ${d.id}/${name}`);
    const base = topics.device(d.id);
    const relative = (t: string) => {
      if (!t.startsWith(`${base}/`)) throw new Error(`${t} is not under ${base}`);
      return `~${t.slice(base.length)}`;
    };
    const id = objectId(d.id, name);
    const payload = {
      "~": base,
      name,
      unique_id: `${HA_NODE_ID}_${component}_${id}`,
      ...Object.fromEntries(Object.entries(topicsOf).map(([k, t]) => [k, relative(t)])),
      ...body,
      // Availability follows the device's retained status; `offline` is its Last Will.
      availability_topic: relative(topics.status(d.id)),
      payload_available: "online",
      payload_not_available: "offline",
      device: {
        identifiers: [haDeviceIdentifier(d.id)],
        name: d.name,
        model: d.model,
        ...(d.via ? { via_device: haDeviceIdentifier(d.via) } : {}),
      },
      origin: { name: HA_ORIGIN_NAME },
    };
    out.push({ component, objectId: id, topic: haTopics.config(component, id), payload: JSON.stringify(payload) });
  };
  for (const d of input.devices) {
    for (const name of d.outputs) {
      // HA's switch sends payload_on/payload_off as they are and compares the rendered value_template
      // with state_on/state_off (switch.py); qos 1 and never retained, as the protocol sends commands.
      add(
        "switch",
        d,
        name,
        { command_topic: topics.set(d.id, name), state_topic: topics.state(d.id, name) },
        {
          value_template: "{{ value_json.value }}",
          payload_on: haCommandPayload("on"),
          payload_off: haCommandPayload("off"),
          state_on: "on",
          state_off: "off",
          qos: 1,
          retain: false,
        },
      );
    }
    for (const name of d.inputs) {
      // HA's event entity reads {"event_type": ...} JSON after value_template (event.py) and ignores
      // retained messages; our input payload is {"value":"pressed"|"released","at":...}.
      add(
        "event",
        d,
        name,
        { state_topic: topics.input(d.id, name) },
        {
          value_template: '{"event_type":"{{ value_json.value }}"}',
          event_types: [...InputPayload.shape.value.options],
          qos: 1,
        },
      );
    }
    for (const sensor of d.sensors ?? []) {
      // A reading is {"value":<number>,"unit":...,"at":...}, retained; state_class measurement gives
      // Home Assistant's long-term statistics (sensor.py, sensor entity docs).
      const unit = sensor.unit;
      add(
        "sensor",
        d,
        sensor.name,
        { state_topic: topics.sensor(d.id, sensor.name) },
        {
          value_template: "{{ value_json.value }}",
          ...(unit ? { unit_of_measurement: unit } : {}),
          ...(unit && HA_TEMPERATURE_UNITS.includes(unit) ? { device_class: "temperature" } : {}),
          state_class: "measurement",
          qos: 1,
        },
      );
    }
  }
  return out;
}
