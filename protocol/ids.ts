// Identifiers that end up in MQTT topics, certificate CNs, file names and systemd unit names.
// One lowercase token keeps all four safe: no MQTT wildcards (+ #), no '/', no '$', no spaces.
export const DEVICE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
export const IO_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$/;

/** Certificate CN of the web app's MQTT identity; no device may use it. */
export const WEB_CLIENT_ID = "web";
/** Certificate CN of the Home Assistant integration's MQTT identity (stack setting integrations.homeAssistant). */
export const HOME_ASSISTANT_CLIENT_ID = "homeassistant";
/** Ids that would collide with a fixed identity or read as something else. */
export const RESERVED_IDS: readonly string[] = [
  WEB_CLIENT_ID,
  HOME_ASSISTANT_CLIENT_ID,
  "server",
  "broker",
  "admin",
  "all",
];

/**
 * Certificate CN (and so MQTT username and client id) of a bridge board's bridge connection: its own
 * identity, apart from the board's device service (CN = the board's id), because the broker binds the
 * client id to the CN and two connections with one identity would keep throwing each other off. The
 * ':' keeps it out of the device id space, so it can never name a device.
 */
export function bridgeIdentity(bridgeId: string): string {
  return `${bridgeId}:bridge`;
}

export function isDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id) && !RESERVED_IDS.includes(id);
}

export function isIoName(name: string): boolean {
  return IO_NAME_PATTERN.test(name);
}
