// A device entry of the stack config (`devices`): the board to provision, how to reach it, and its outputs, inputs,
// sensors and bridge role. Backends are the device config's own schemas (device/config.ts); the list's rules that
// span entries (ids, names, each line's backend on its board) are checked once every entry parses.
import { z } from "zod";
import { Board, GpiodBackend, LedBackend, SafeState, SimulatedBackend, SysfsBackend } from "../../device/config";
import { show, str, unknownType } from "../../device/config-fields";
import {
  CpuThermalSensor,
  DEFAULT_SENSOR_INTERVAL_SECONDS,
  Ds18b20Sensor,
  FileSensor,
  SensorFields,
  SimulatedSensor,
  withSensorRules,
} from "../../device/sensors/config";
import { isDeviceId, isIoName, RESERVED_IDS } from "../../protocol";
import { isHost, isIPv4 } from "../net";
import { resolveBackends } from "../render/device-board";
import { boolLike, fromBoolText, fromDecimal, fromDigits, intLike, numLike } from "./fields";

const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SSH_HOST_KEY =
  /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/;

const ioName = (what: string) =>
  str(what).refine(isIoName, {
    error: (iss) => `${what} ${show(iss.input)} is not a valid name (lowercase letters, digits, - and _, 1-32 chars)`,
  });

// A backend as a stack entry gives it: the device config's own schemas (device/config.ts), taking the strings that
// `pulumi config set --path` stores, and gpiod/sysfs lines not inverted unless said. Kernel LED alternatives are the
// board profile's to add (infra/render/device-board.ts); an LED as an input is refused there, by name.
const backendSchema = z.discriminatedUnion(
  "type",
  [
    LedBackend.omit({ alternatives: true }).extend({
      activeLow: fromBoolText(LedBackend.shape.activeLow.unwrap()).optional(),
    }),
    GpiodBackend.extend({ activeLow: fromBoolText(GpiodBackend.shape.activeLow.unwrap()).default(false) }),
    SysfsBackend.extend({
      gpio: fromDigits(SysfsBackend.shape.gpio),
      activeLow: fromBoolText(SysfsBackend.shape.activeLow.unwrap()).default(false),
    }),
    SimulatedBackend,
  ],
  { error: unknownType("backend", ["led", "gpiod", "sysfs", "simulated"]) },
);

// A sensor as a stack entry gives it: the device's own schemas (device/sensors/config.ts), taking the strings that
// `pulumi config set --path` stores for its numbers, with the stack's default interval and the alert, which is the web
// app's (infra/server-input.ts hands it on; the device config leaves it out).
const { zone } = CpuThermalSensor.shape;
const { scale, offset } = FileSensor.shape;
const { base, amplitude, periodSeconds, noise } = SimulatedSensor.shape;
const sensorBackendSchema = z.discriminatedUnion(
  "type",
  [
    CpuThermalSensor.extend({ zone: fromDigits(zone.unwrap()).optional() }),
    Ds18b20Sensor,
    FileSensor.extend({
      scale: fromDecimal(scale.unwrap()).optional(),
      offset: fromDecimal(offset.unwrap()).optional(),
    }),
    SimulatedSensor.extend({
      base: fromDecimal(base.unwrap()).optional(),
      amplitude: fromDecimal(amplitude.unwrap()).optional(),
      periodSeconds: fromDigits(periodSeconds.unwrap()).optional(),
      noise: fromDecimal(noise.unwrap()).optional(),
    }),
  ],
  { error: unknownType("sensor backend", ["cpu-thermal", "ds18b20", "file", "simulated"]) },
);

const sensorSchema = withSensorRules(
  SensorFields.extend({
    intervalSeconds: fromDigits(SensorFields.shape.intervalSeconds.unwrap()).default(DEFAULT_SENSOR_INTERVAL_SECONDS),
    reportChange: fromDecimal(SensorFields.shape.reportChange.unwrap()).optional(),
    backend: sensorBackendSchema,
    alert: z
      .strictObject({
        above: numLike("above").optional(),
        below: numLike("below").optional(),
        forMinutes: intLike("forMinutes", 1, 1440).default(5),
      })
      .refine((a) => a.above !== undefined || a.below !== undefined, {
        error: "alert needs above, below or both (e.g. { above: 70, forMinutes: 5 })",
      })
      .refine((a) => a.above === undefined || a.below === undefined || a.below < a.above, {
        error: "alert below must be less than above",
      })
      .optional(),
  }),
);

const outputSchema = z.strictObject({
  name: ioName("output name"),
  safeState: SafeState.default("off"),
  // Optional: the board profile's default (a Pi's LED on GPIO17, button on GPIO27) when left out.
  backend: backendSchema.optional(),
});
const inputSchema = z.strictObject({ name: ioName("input name"), backend: backendSchema.optional() });

const deviceId = (what: string) =>
  str(what).refine(isDeviceId, {
    error: (iss) =>
      RESERVED_IDS.includes(String(iss.input))
        ? `${what} ${show(iss.input)} is reserved (${RESERVED_IDS.join(", ")}); pick another`
        : `${what} ${show(iss.input)} is not a valid id: lowercase letters, digits and '-', 1-32 chars, no MQTT wildcards or '/'`,
  });

const bridgeSchema = z.strictObject({
  lanAddress: str("lanAddress").refine(isIPv4, {
    error: (iss) => `lanAddress must be the bridge's IPv4 address on the LAN, got ${show(iss.input)}`,
  }),
  port: intLike("port", 1, 65535).default(1883),
  children: z
    .array(
      z.strictObject({
        id: deviceId("child id"),
        outputs: z.array(ioName("output name")).default([]),
        inputs: z.array(ioName("input name")).default([]),
      }),
      { error: (iss) => `children must be a list, got ${show(iss.input)}` },
    )
    .default([]),
});

export const deviceSchema = z.strictObject({
  id: deviceId("id"),
  host: str("host").refine(isHost, { error: (iss) => `host ${show(iss.input)} is not a hostname or IP address` }),
  port: intLike("port", 1, 65535).default(22),
  user: str("user")
    .regex(UNIX_USER, { error: (iss) => `user ${show(iss.input)} is not a Linux user name` })
    .default("pi"),
  hostKey: str("hostKey")
    .regex(SSH_HOST_KEY, {
      error: (iss) => `hostKey must be a public host key line like "ssh-ed25519 AAAA...", got ${show(iss.input)}`,
    })
    // @pulumi/command offers only the pinned key's type as host key algorithm (remote/connection.go
    // HostKeyAlgorithms = [key.Type()]; x/crypto/ssh sends it as is): for RSA that is the SHA-1 "ssh-rsa"
    // signature, which OpenSSH 8.8+ (Debian 12, Raspberry Pi OS bookworm) no longer offers, so the install
    // could never connect.
    .refine((v) => !v.startsWith("ssh-rsa "), {
      error:
        "hostKey is an RSA key, which provisioning cannot pin (it would need the SHA-1 ssh-rsa signature that " +
        "OpenSSH 8.8+ refuses); use the board's ed25519 key: ssh-keyscan -t ed25519 <host>",
    })
    .optional(),
  board: Board,
  outputs: z.array(outputSchema, { error: (iss) => `outputs must be a list, got ${show(iss.input)}` }).default([]),
  inputs: z.array(inputSchema, { error: (iss) => `inputs must be a list, got ${show(iss.input)}` }).default([]),
  sensors: z.array(sensorSchema, { error: (iss) => `sensors must be a list, got ${show(iss.input)}` }).default([]),
  bridge: bridgeSchema.optional(),
  retainOnDelete: boolLike("retainOnDelete").optional(),
});

/** One device entry as the stack gives it (a line's backend may be left to the board profile). */
export type DeviceEntry = z.output<typeof deviceSchema>;

/**
 * The entries with every line's backend resolved (the board profile's where an entry names none), so the rest of
 * the program and a preview see exactly what each board will run; ids and names that clash are refused.
 */
export const devicesSchema = z.array(deviceSchema).transform((entries, ctx) => {
  const issue = (message: string, path: PropertyKey[]) => ctx.addIssue({ code: "custom", message, path });
  const devices = entries.map((d, i) => {
    const resolved = resolveBackends(d.board, d.outputs, d.inputs);
    for (const p of resolved.problems) {
      const list = p.kind === "output" ? "outputs" : "inputs";
      const name = (p.kind === "output" ? d.outputs : d.inputs)[p.index]?.name;
      issue(`${p.kind} ${show(name)} ${p.problem}`, [i, list, p.index, "backend"]);
    }
    return {
      ...d,
      outputs: d.outputs.map((o, j) => ({ ...o, backend: resolved.outputs[j] ?? { type: "simulated" as const } })),
      inputs: d.inputs.map((o, j) => ({ ...o, backend: resolved.inputs[j] ?? { type: "simulated" as const } })),
    };
  });
  const seen = new Map<string, string>();
  const claim = (id: string, path: PropertyKey[]) => {
    const prior = seen.get(id);
    if (prior)
      issue(`id ${show(id)} is already used by ${prior}; every device and bridge child needs its own id`, path);
    else seen.set(id, `devices${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}`);
  };
  for (const [i, d] of devices.entries()) {
    claim(d.id, [i, "id"]);
    const names = new Set<string>();
    for (const [j, io] of [...d.outputs, ...d.inputs].entries()) {
      const at = j < d.outputs.length ? ["outputs", j] : ["inputs", j - d.outputs.length];
      if (names.has(io.name)) issue(`name ${show(io.name)} is used twice on device ${show(d.id)}`, [i, ...at, "name"]);
      names.add(io.name);
    }
    const sensorNames = new Set<string>();
    for (const [j, sensor] of d.sensors.entries()) {
      if (sensorNames.has(sensor.name))
        issue(`sensor ${show(sensor.name)} is listed twice on device ${show(d.id)}`, [i, "sensors", j, "name"]);
      sensorNames.add(sensor.name);
    }
    for (const [j, c] of (d.bridge?.children ?? []).entries()) {
      claim(c.id, [i, "bridge", "children", j, "id"]);
      const dup =
        c.outputs.find((n, k) => c.outputs.indexOf(n) !== k) ?? c.inputs.find((n, k) => c.inputs.indexOf(n) !== k);
      if (dup) issue(`name ${show(dup)} is listed twice on ${show(c.id)}`, [i, "bridge", "children", j]);
    }
  }
  return devices;
});
