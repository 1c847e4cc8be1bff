// The web app's configuration file (/etc/diy-web/config.json on the server) and its secrets.
// This schema is the contract: infra renders config.json through it (infra/render/web-config.ts), so a
// value the app would refuse is an error at `pulumi preview`, not a failed start on the server.
import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  BROKER_KINDS,
  type BrokerKind,
  MAX_PAYLOAD_BYTES,
  haDiscoveryConfigs,
  isDeviceId,
  isIoName,
} from "../../protocol";
import { AlertsConfig } from "./alerts";
import { DEFAULT_RETENTION } from "./history/downsample";
import { haDevices } from "./homeassistant";

/** Default size limit of the history database: years of 5-minute aggregates for dozens of sensors. */
export const DEFAULT_HISTORY_MAX_MEGABYTES = 1024;

const ioName = z.string().refine(isIoName, "must be a lowercase name: a-z, 0-9, _ and -, up to 32 characters");
const deviceId = z
  .string()
  .refine(isDeviceId, "must be a device id: lowercase a-z, 0-9 and -, up to 32 characters, not a reserved name");
const filePath = z.string().min(1, "must be a file path");

/** A threshold alert: mail when the reading stays above/below a value for forMinutes. */
export const SensorAlertConfig = z
  .strictObject({
    above: z.number().finite().optional(),
    below: z.number().finite().optional(),
    forMinutes: z.number().int().min(1).max(1440).default(5),
  })
  .refine((a) => a.above !== undefined || a.below !== undefined, "needs above, below or both")
  .refine((a) => a.above === undefined || a.below === undefined || a.below < a.above, "below must be less than above");
export type SensorAlertConfig = z.infer<typeof SensorAlertConfig>;

export const WebSensorConfig = z.strictObject({
  name: ioName,
  alert: SensorAlertConfig.optional(),
});
export type WebSensorConfig = z.infer<typeof WebSensorConfig>;

export const WebDeviceConfig = z.strictObject({
  /** Device id: the device certificate's CN and its topic segment. */
  id: deviceId,
  /** Name shown on the page; the id when missing. */
  label: z.string().min(1).max(64).optional(),
  /** Output names (LEDs, relays) the page shows with on/off/toggle buttons. */
  outputs: z.array(ioName).default([]),
  /** Input names (buttons) whose last event the page shows. */
  inputs: z.array(ioName).default([]),
  /** Sensors whose readings the page charts and the history keeps. */
  sensors: z.array(WebSensorConfig).default([]),
});
export type WebDeviceConfig = z.infer<typeof WebDeviceConfig>;
export type WebDeviceConfigInput = z.input<typeof WebDeviceConfig>;

/** Where and how long sensor readings and input events are kept (apps/web/history). */
export const HistoryConfig = z.strictObject({
  /** The SQLite database file; its directory must be writable by the app (diy-web.service: StateDirectory). */
  file: z.string().startsWith("/", "must be an absolute path"),
  /** Days raw readings and input events are kept. */
  rawDays: z.number().int().min(1).max(90).default(DEFAULT_RETENTION.rawDays),
  /** Days the 5-minute min/avg/max aggregates are kept. */
  aggregateDays: z.number().int().min(1).max(3650).default(DEFAULT_RETENTION.aggregateDays),
  /** Largest size of the database file; writes past it are dropped with a log line. */
  maxMegabytes: z.number().int().min(16).max(1_000_000).default(DEFAULT_HISTORY_MAX_MEGABYTES),
});
export type HistoryConfig = z.infer<typeof HistoryConfig>;

/**
 * Home Assistant MQTT discovery (apps/web/homeassistant.ts): present = the app announces every device to
 * Home Assistant. The broker must grant the web identity our discovery topics (protocol/acl.ts).
 */
export const HomeAssistantConfig = z.strictObject({
  /**
   * Per device id: the model line Home Assistant shows, the bridge board a child talks through, and the
   * unit each sensor publishes with (Home Assistant's unit_of_measurement).
   */
  devices: z
    .record(
      deviceId,
      z.strictObject({
        model: z.string().min(1).max(64),
        via: deviceId.optional(),
        units: z.record(ioName, z.string().min(1).max(16)).optional(),
      }),
    )
    .default({}),
});
export type HomeAssistantConfig = z.infer<typeof HomeAssistantConfig>;

/**
 * Where the app listens: TCP `host`/`port` for a web app that browsers reach directly (the local demo; keep it on
 * loopback), or a unix `socket` (mode 0660, given to `group`) for the app behind nginx, whose workers' group
 * (www-data on Debian and Ubuntu) is then the only one that may connect.
 */
export type ListenConfig = { host: string; port: number } | { socket: string; group: string };

const Listen = z
  .strictObject({
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    socket: z.string().startsWith("/", "must be an absolute path").optional(),
    group: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a group name, like www-data")
      .optional(),
  })
  .superRefine((l, ctx) => {
    if (l.socket !== undefined && (l.host !== undefined || l.port !== undefined))
      ctx.addIssue({ code: "custom", path: ["socket"], message: "give either socket (with group) or host/port" });
    if (l.socket !== undefined && l.group === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["group"],
        message: "the group that may connect to the socket (nginx's: www-data)",
      });
    if (l.socket === undefined && l.group !== undefined)
      ctx.addIssue({ code: "custom", path: ["group"], message: "only for a socket" });
  })
  .transform(
    (l): ListenConfig =>
      l.socket !== undefined && l.group !== undefined
        ? { socket: l.socket, group: l.group }
        : { host: l.host ?? "127.0.0.1", port: l.port ?? 3000 },
  );

export const WebConfig = z
  .strictObject({
    /**
     * Where the app listens. Behind nginx (the server): a unix socket only nginx's group can open, and the
     * client address is the one nginx adds to X-Forwarded-For. Reached directly (the demo): TCP, and the
     * client address is the peer's; forwarding headers are ignored, so no local process can choose its own.
     */
    listen: Listen.default({ host: "127.0.0.1", port: 3000 }),
    /** The broker and the web app's own client certificate (CN "web"): file paths. */
    broker: z
      .strictObject({
        /**
         * Which broker profile (protocol/limits.ts BrokerKind): the stack's mosquitto, or AWS IoT Core, where the
         * state is loaded through the retained-message API and online/offline comes from presence events
         * (apps/web/iot-profile.ts). The HTTP layer and the page are the same either way.
         */
        kind: z.enum(BROKER_KINDS as [BrokerKind, ...BrokerKind[]]).default("mosquitto"),
        url: z.string().regex(/^mqtts:\/\/[^/\s]+$/, 'must be "mqtts://host:port" (TLS only)'),
        ca: filePath,
        cert: filePath,
        key: filePath,
        /** Name to verify in the broker's certificate when it differs from the URL's host. */
        servername: z.string().min(1).optional(),
        /** kind iot-core only. */
        iot: z
          .strictObject({
            /** The stack's thing-name prefix: the app connects as `<prefix>:web`, devices are `<prefix>:<id>`. */
            thingPrefix: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64"),
            /** AWS region of the IoT Core endpoint (the retained-message API is signed for it). */
            region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region like "eu-central-1"'),
            /** The retained-message API's endpoint; default https://<the MQTT host> (the ATS data endpoint). */
            dataEndpoint: z.url({ protocol: /^https?$/ }).optional(),
          })
          .optional(),
      })
      .superRefine((b, ctx) => {
        if (b.kind === "iot-core" && !b.iot)
          ctx.addIssue({ code: "custom", path: ["iot"], message: 'kind "iot-core" needs iot: {thingPrefix, region}' });
        if (b.kind === "mosquitto" && b.iot)
          ctx.addIssue({ code: "custom", path: ["iot"], message: 'iot is for kind "iot-core" only: remove it' });
      }),
    /** The devices the page shows. Messages about other devices are dropped. */
    devices: z.array(WebDeviceConfig).default([]),
    /** Origin the browser uses (https://iot.example.com). When set, state-changing requests must come from it. */
    publicOrigin: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) origin like "https://iot.example.com"' })
      .optional(),
    /** Secure flag on the session cookie. Only the local demo over plain http sets it false. */
    cookieSecure: z.boolean().default(true),
    /**
     * Frames (commands, and bad frames too) per second and burst per page connection (/api/live,
     * apps/web/live-socket.ts). Default 10 and 40, nginx's limit for HTTP API requests; the click
     * benchmark raises it.
     */
    liveCommandRate: z
      .strictObject({
        perSecond: z.number().positive().max(1_000_000),
        burst: z.number().int().min(1).max(1_000_000),
      })
      .optional(),
    /**
     * The app's own writable directory (diy-web.service: StateDirectory /var/lib/diy-web): logged-out
     * sessions are kept there so a logout outlives a restart. When missing they are kept in memory only.
     */
    stateDir: z.string().startsWith("/", "must be an absolute path").optional(),
    /** History of readings and input events; none kept when missing. */
    history: HistoryConfig.optional(),
    /** Home Assistant discovery; none published when missing. */
    homeAssistant: HomeAssistantConfig.optional(),
    /** Offline and sensor threshold alerts (apps/web/alerts.ts); none sent or logged when missing. */
    alerts: AlertsConfig.optional(),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.devices.forEach((d, i) => {
      if (seen.has(d.id))
        ctx.addIssue({ code: "custom", path: ["devices", i, "id"], message: `duplicate device id "${d.id}"` });
      seen.add(d.id);
      const names = [...d.outputs, ...d.inputs];
      const dup = names.find((n, j) => names.indexOf(n) !== j);
      if (dup) ctx.addIssue({ code: "custom", path: ["devices", i], message: `device "${d.id}" names "${dup}" twice` });
      const sensors = d.sensors.map((x) => x.name);
      const dupSensor = sensors.find((n, j) => sensors.indexOf(n) !== j);
      if (dupSensor)
        ctx.addIssue({
          code: "custom",
          path: ["devices", i],
          message: `device "${d.id}" names sensor "${dupSensor}" twice`,
        });
    });
    const ha = cfg.homeAssistant;
    if (!ha) return;
    for (const id of Object.keys(ha.devices)) {
      if (!seen.has(id))
        ctx.addIssue({ code: "custom", path: ["homeAssistant", "devices", id], message: `"${id}" is not in devices` });
    }
    // Each discovery config is one MQTT message: it must fit the protocol's payload limit.
    haDevices(cfg).forEach((device, i) => {
      for (const c of haDiscoveryConfigs({ devices: [device] })) {
        const bytes = Buffer.byteLength(c.payload);
        if (bytes > MAX_PAYLOAD_BYTES)
          ctx.addIssue({
            code: "custom",
            path: ["devices", i, "label"],
            message: `the Home Assistant config of "${c.objectId}" would be ${bytes} bytes (limit ${MAX_PAYLOAD_BYTES}): shorten the label or model`,
          });
      }
    });
  });
export type WebConfig = z.infer<typeof WebConfig>;
/** What a caller writes (defaults filled in by parsing). */
export type WebConfigInput = z.input<typeof WebConfig>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates a config object; throws ConfigError with one line per problem, each naming its key. */
export function parseWebConfig(data: unknown, source = "web config"): WebConfig {
  const result = WebConfig.safeParse(data);
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((i) => {
    // An unknown key is named by its own path, so a typo reads like any other problem.
    if (i.code === "unrecognized_keys")
      return i.keys.map((k) => `  ${[...i.path, k].join(".")}: unknown key (remove it or check its spelling)`);
    return [`  ${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`];
  });
  throw new ConfigError(`${source} is invalid:\n${lines.join("\n")}`);
}

/** Reads and validates the JSON config file. */
export function loadWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read web config ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`web config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseWebConfig(data, `web config ${file}`);
}

/** Picks the config path from `--config <file>` / `--config=<file>` or DIY_WEB_CONFIG. */
export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--config") {
      const next = argv[i + 1];
      if (!next) throw new ConfigError("--config needs a file path");
      return next;
    }
    if (a.startsWith("--config=")) return a.slice("--config=".length);
  }
  if (env.DIY_WEB_CONFIG) return env.DIY_WEB_CONFIG;
  throw new ConfigError(
    "no config file: pass --config <file> or set DIY_WEB_CONFIG (on the server: /etc/diy-web/config.json)",
  );
}

export interface WebSecrets {
  /** The stack's web password (login). */
  password: string;
  /** Key for signing session cookies and CSRF tokens; at least 32 characters. */
  sessionSecret: string;
}

export const MIN_SESSION_SECRET_LENGTH = 32;

/**
 * Reads DIY_WEB_PASSWORD and DIY_SESSION_SECRET (systemd EnvironmentFile /etc/diy-web/secrets.env).
 * Error messages name the variable, never its value.
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv): WebSecrets {
  const password = env.DIY_WEB_PASSWORD ?? "";
  const sessionSecret = env.DIY_SESSION_SECRET ?? "";
  const problems: string[] = [];
  if (!password) problems.push("DIY_WEB_PASSWORD is not set (the stack's web password; /etc/diy-web/secrets.env)");
  if (sessionSecret.length < MIN_SESSION_SECRET_LENGTH) {
    problems.push(
      `DIY_SESSION_SECRET must be at least ${MIN_SESSION_SECRET_LENGTH} characters (random; /etc/diy-web/secrets.env)`,
    );
  }
  if (problems.length) throw new ConfigError(`web secrets are missing:\n  ${problems.join("\n  ")}`);
  return { password, sessionSecret };
}
