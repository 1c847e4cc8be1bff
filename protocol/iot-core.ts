// How the protocol's identities appear on AWS IoT Core: each identity (a device, the web app, a bridge
// connection, Home Assistant) is one thing whose name is also its MQTT client id, and the broker announces
// connects and disconnects on its own presence topics.
//
// Sources (AWS IoT Core Developer Guide / API Reference):
// - CreateThing (iot/latest/apireference/API_CreateThing.html): thingName 1-128 characters, pattern
//   [a-zA-Z0-9:_-]+. Thing names are unique per account and region, so each stack's things carry its prefix.
// - "Thing policy variables" (thing-policy-variables.html): ${iot:Connection.Thing.ThingName} resolves to the
//   thing the presented certificate is attached to (AttachThingPrincipal), and with a non-exclusive
//   association the client id must equal the thing name; "Thing policy examples": when the certificate is not
//   attached to the thing the variable is not resolved and the request is denied. A policy that allows
//   iot:Connect only on client/${iot:Connection.Thing.ThingName} binds the client id to the identity, as
//   mosquitto's use_username_as_clientid binds it to the certificate CN.
// - "Connect/Disconnect events" (life-cycle-events.html#connect-disconnect): the broker publishes to
//   $aws/events/presence/connected/<clientId> and $aws/events/presence/disconnected/<clientId>; unlike a Last
//   Will, these carry a timestamp and cannot arrive from a connection older than the one they report.
import { clientIdProblem } from "./limits";

/**
 * MQTT over TLS with X.509 client certificates: "Device communication protocols" (protocols.html), the
 * protocol/port table: MQTT, client certificate, port 8883 (443 only with the ALPN name x-amzn-mqtt-ca).
 */
export const IOT_CORE_MQTT_PORT = 8883;

/** CreateThing thingName. */
export const IOT_THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Longest stack prefix: the longest identity (a bridge connection, 39 characters) still fits a thing name. */
export const IOT_PREFIX_MAX = 64;

/** A thing-name prefix from a Pulumi project and stack name, in the characters a thing name allows. */
export function iotNamePrefix(project: string, stack: string): string {
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9_-]/g, "-");
  return `${clean(project)}-${clean(stack)}`.slice(0, IOT_PREFIX_MAX);
}

/**
 * The thing name, and MQTT client id, of one identity (protocol id: `pi1`, `web`, `gw1:bridge`) in a stack:
 * `<prefix>:<identity>`. Throws when IoT Core would refuse it as a thing name or client id.
 */
export function iotThingName(prefix: string, identity: string): string {
  if (prefix === "" || prefix.length > IOT_PREFIX_MAX || prefix.includes(":"))
    throw new Error(`IoT thing prefix ${JSON.stringify(prefix)} must be 1-${IOT_PREFIX_MAX} characters without ':'`);
  const name = `${prefix}:${identity}`;
  if (!IOT_THING_NAME_PATTERN.test(name))
    throw new Error(`IoT thing name ${JSON.stringify(name)} must match [a-zA-Z0-9:_-] and be 1-128 characters`);
  const problem = clientIdProblem("iot-core", name);
  if (problem) throw new Error(problem);
  return name;
}

/** The identity a thing name of this stack stands for; undefined for another stack's or another account's client. */
export function identityOfThing(prefix: string, thingName: string): string | undefined {
  return thingName.startsWith(`${prefix}:`) ? thingName.slice(prefix.length + 1) || undefined : undefined;
}

export const IOT_PRESENCE_ROOT = "$aws/events/presence";
export const iotPresenceTopics = {
  connected: (clientId: string) => `${IOT_PRESENCE_ROOT}/connected/${clientId}`,
  disconnected: (clientId: string) => `${IOT_PRESENCE_ROOT}/disconnected/${clientId}`,
  /** What the web app subscribes to for presence: both events of every client (its policy narrows them). */
  filters: [`${IOT_PRESENCE_ROOT}/connected/+`, `${IOT_PRESENCE_ROOT}/disconnected/+`] as const,
} as const;

/** Reads a presence topic back; undefined for any other topic. */
export function parsePresenceTopic(
  topic: string,
): { event: "connected" | "disconnected"; clientId: string } | undefined {
  const m = /^\$aws\/events\/presence\/(connected|disconnected)\/([^/]+)$/.exec(topic);
  return m ? { event: m[1] as "connected" | "disconnected", clientId: m[2] as string } : undefined;
}
