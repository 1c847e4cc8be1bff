// The install script's stdin: every file it installs but the bundle, base64 in named sections. Sent as the remote
// command's (secret) stdin, so the device key never appears in argv, in a log or in a plain output.
//
//   #diy-device-payload v1
//   =file device.key
//   <base64, 76 columns>
//   =end-payload            (a truncated payload is refused)

export const PAYLOAD_MAGIC = "#diy-device-payload v1";
export const PAYLOAD_END = "=end-payload";

/**
 * Section names the install script knows; the required ones come first. The bundle (device.js) is not among
 * them: it is a megabyte of non-secret code, copied beside the command (device-paths.ts STAGED_DEVICE_BUNDLE).
 */
export const PAYLOAD_FILES = [
  "config.json",
  "ca.pem",
  "device.pem",
  "device.key",
  "diy-device.service",
  "udev.rules",
  "bridge.conf",
  "bridge.acl",
  "bridge.passwd",
  "bridge.pem",
  "bridge.key",
] as const;
export type PayloadFile = (typeof PAYLOAD_FILES)[number];
export const REQUIRED_PAYLOAD_FILES: readonly PayloadFile[] = PAYLOAD_FILES.slice(0, 5);

export type DevicePayloadInput = Partial<Record<PayloadFile, string>>;

export function renderDevicePayload(files: DevicePayloadInput): string {
  const out = [PAYLOAD_MAGIC];
  for (const name of PAYLOAD_FILES) {
    const content = files[name];
    if (content === undefined) {
      if (REQUIRED_PAYLOAD_FILES.includes(name)) throw new Error(`device payload needs ${name}`);
      continue;
    }
    if (content === "") throw new Error(`device payload file ${name} is empty`);
    out.push(
      `=file ${name}`,
      ...(Buffer.from(content, "utf8")
        .toString("base64")
        .match(/.{1,76}/g) ?? []),
    );
  }
  out.push(PAYLOAD_END);
  return `${out.join("\n")}\n`;
}

/** Reads a payload back into its files (tests, and a check that what is sent is what was meant). */
export function parseDevicePayload(payload: string): DevicePayloadInput {
  const rows = payload.split("\n");
  if (rows[0] !== PAYLOAD_MAGIC) throw new Error("not a diy-device payload");
  if (rows[rows.length - 2] !== PAYLOAD_END) throw new Error("payload is incomplete");
  const files: Record<string, string> = {};
  let current: string | undefined;
  for (const row of rows.slice(1, -2)) {
    const m = /^=file ([a-z0-9][a-z0-9.-]*)$/.exec(row);
    if (m?.[1]) {
      current = m[1];
      files[current] = "";
    } else if (current !== undefined) {
      files[current] += row;
    }
  }
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}
