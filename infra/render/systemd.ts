// systemd units and drop-ins: a generic renderer, the hardened diy-web.service and the mosquitto
// drop-in that lifts Debian's ~1,024 open-file cap (one file descriptor per connected device).
import { NGINX_WORKER_GROUP, SERVER_WEB_SOCKET } from "./nginx";
import { DEFAULT_SOURCE, absPath, header, lines, oneLine, token } from "./text";

/** Ordered [key, value] pairs per section; a key may repeat (After=, Environment=). */
export type UnitSections = Record<string, readonly (readonly [string, string])[]>;

export interface SystemdUnitInput {
  source?: string;
  /** The module that decided the unit's content, named in the header (default this one). */
  renderer?: string;
  sections: UnitSections;
}

/** Where the units we ship live: each unit's name is written once, its path follows from it. */
export const SYSTEMD_UNIT_DIR = "/etc/systemd/system";

/** A unit's path. Names may hold systemd's escapes (a mount unit's `\x2d`, systemd.unit(5)), never a `/`. */
export function unitFile(name: string): string {
  if (!/^[a-z][a-z0-9:_.\\-]*\.(service|timer|mount)$/.test(name)) throw new Error(`not a unit name we ship: ${name}`);
  return `${SYSTEMD_UNIT_DIR}/${name}`;
}

/** A oneshot service and the timer that starts it: `<name>.service` and `<name>.timer`. */
export function timerUnits<N extends string>(name: N): { service: `${N}.service`; timer: `${N}.timer` } {
  return { service: `${name}.service`, timer: `${name}.timer` };
}

/** Where timerUnits' two units live. */
export function timerUnitPaths(units: { service: string; timer: string }): { service: string; timer: string } {
  return { service: unitFile(units.service), timer: unitFile(units.timer) };
}

export function renderSystemdUnit(input: SystemdUnitInput): string {
  const renderer = input.renderer ?? "infra/render/systemd.ts";
  const out = [...header("#", renderer, input.source ?? DEFAULT_SOURCE)];
  for (const [section, entries] of Object.entries(input.sections)) {
    if (!/^[A-Z][A-Za-z]+$/.test(section)) throw new Error(`systemd section name is not valid: ${section}`);
    out.push("", `[${section}]`);
    for (const [key, value] of entries) {
      if (!/^[A-Z][A-Za-z0-9]+$/.test(key)) throw new Error(`systemd key is not valid: ${key}`);
      out.push(`${key}=${value === "" ? "" : oneLine(key, value)}`);
    }
  }
  return lines(out);
}

/** A timer we ship: its schedule ([Timer] settings) and, to switch it on, `WantedBy=timers.target`. */
export function renderTimerUnit(input: {
  source?: string | undefined;
  renderer: string;
  description: string;
  schedule: Readonly<Record<string, string>>;
}): string {
  return renderSystemdUnit({
    source: input.source,
    renderer: input.renderer,
    sections: {
      Unit: [["Description", input.description]],
      Timer: Object.entries(input.schedule),
      Install: [["WantedBy", "timers.target"]],
    },
  });
}

export interface DiyWebUnitInput {
  source?: string;
  user?: string;
  nodePath?: string;
  script?: string;
  configPath?: string;
  environmentFile?: string;
  /** Files the app only reads (config, certificates, its bundle). */
  readOnlyPaths?: readonly string[];
  /**
   * Let the app hand mail to postfix's sendmail (offline alerts). Under NoNewPrivileges postdrop's
   * setgid bit is ignored, so the service gets the postdrop group itself, and write access to the
   * maildrop directory that ProtectSystem=strict would otherwise make read-only. Default true.
   */
  sendmail?: boolean;
  /**
   * Paths on their own mounts (the history volume on /var/lib/diy-web): the app starts only once they are mounted
   * and fails instead of writing to the directory underneath on the root disk (systemd.unit(5), RequiresMountsFor).
   */
  requiresMountsFor?: readonly string[];
  /**
   * The group given the app's unix socket (apps/web/listen.ts): nginx's workers' group. The app needs it as a
   * supplementary group to chown the socket; its directory /run/diy-web is traversable, not listable. Default
   * NGINX_WORKER_GROUP.
   */
  socketGroup?: string;
  /** mosquitto runs on this machine (the mosquitto broker profile): start after it. Default true. */
  localBroker?: boolean;
}

export const WEB_UNIT = "diy-web.service";

export const SERVER_WEB_PATHS = {
  unit: unitFile(WEB_UNIT),
  script: "/opt/diy-web/web.js",
  configDir: "/etc/diy-web",
  config: "/etc/diy-web/config.json",
  ca: "/etc/diy-web/ca.pem",
  cert: "/etc/diy-web/web.pem",
  key: "/etc/diy-web/web.key",
  secretsEnv: "/etc/diy-web/secrets.env",
  /** StateDirectory=diy-web: writable by the app alone. */
  stateDir: "/var/lib/diy-web",
  /** The history database (apps/web/history) in the state directory. */
  history: "/var/lib/diy-web/history.db",
  /** RuntimeDirectory=diy-web: the app's socket, which nginx proxies to. */
  socket: SERVER_WEB_SOCKET,
} as const;

export const WEB_USER = "diy-web";

export function renderDiyWebUnit(input: DiyWebUnitInput = {}): string {
  const user = token("user", input.user ?? WEB_USER);
  const node = absPath("nodePath", input.nodePath ?? "/usr/bin/node");
  const script = absPath("script", input.script ?? SERVER_WEB_PATHS.script);
  const config = absPath("configPath", input.configPath ?? SERVER_WEB_PATHS.config);
  const readOnly = (input.readOnlyPaths ?? [SERVER_WEB_PATHS.configDir, "/opt/diy-web"]).map((p) =>
    absPath("readOnlyPaths", p),
  );
  return renderSystemdUnit({
    source: input.source,
    sections: {
      Unit: [
        ["Description", "DIY Device Cloud web app"],
        ["After", `network-online.target${input.localBroker === false ? "" : " mosquitto.service"}`],
        ["Wants", "network-online.target"],
        ...(input.requiresMountsFor?.length
          ? ([
              ["RequiresMountsFor", input.requiresMountsFor.map((p) => absPath("requiresMountsFor", p)).join(" ")],
            ] as const)
          : []),
      ],
      Service: [
        ["Type", "simple"],
        ["User", user],
        ["Group", user],
        ["ExecStart", `${node} ${script} --config ${config}`],
        ["EnvironmentFile", absPath("environmentFile", input.environmentFile ?? SERVER_WEB_PATHS.secretsEnv)],
        ["Environment", "NODE_ENV=production"],
        ["Restart", "always"],
        ["RestartSec", "2"],
        ["UMask", "0077"],
        ["NoNewPrivileges", "yes"],
        ["ProtectSystem", "strict"],
        ["ProtectHome", "yes"],
        ["PrivateTmp", "yes"],
        ["PrivateDevices", "yes"],
        ["ProtectKernelTunables", "yes"],
        ["ProtectKernelModules", "yes"],
        ["ProtectKernelLogs", "yes"],
        ["ProtectControlGroups", "yes"],
        ["ProtectClock", "yes"],
        ["ProtectHostname", "yes"],
        ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
        ["RestrictNamespaces", "yes"],
        ["RestrictRealtime", "yes"],
        ["RestrictSUIDSGID", "yes"],
        ["LockPersonality", "yes"],
        ["CapabilityBoundingSet", ""],
        ["SystemCallArchitectures", "native"],
        ["ReadOnlyPaths", readOnly.join(" ")],
        // /var/lib/diy-web, owned by the service user and writable under ProtectSystem=strict: the
        // history database (apps/web/history) lives there.
        ["StateDirectory", "diy-web"],
        ["StateDirectoryMode", "0700"],
        // /run/diy-web holds the socket nginx proxies to (listen.socket): 0711 lets nginx reach the socket by
        // name; the socket's own mode (0660, group socketGroup) decides who may connect.
        ["RuntimeDirectory", "diy-web"],
        ["RuntimeDirectoryMode", "0711"],
        ["SupplementaryGroups", token("socketGroup", input.socketGroup ?? NGINX_WORKER_GROUP)],
        ...((input.sendmail ?? true)
          ? ([
              ["SupplementaryGroups", "postdrop"],
              ["ReadWritePaths", "/var/spool/postfix/maildrop"],
            ] as const)
          : []),
      ],
      Install: [["WantedBy", "multi-user.target"]],
    },
  });
}

/** /etc/systemd/system/mosquitto.service.d/limits.conf */
export function renderMosquittoDropIn(input: { source?: string; limitNofile?: number } = {}): string {
  const n = input.limitNofile ?? 65536;
  if (!Number.isInteger(n) || n < 1024) throw new Error(`limitNofile must be a whole number >= 1024, got ${n}`);
  return renderSystemdUnit({ source: input.source, sections: { Service: [["LimitNOFILE", String(n)]] } });
}

export const MOSQUITTO_DROP_IN_PATH = `${SYSTEMD_UNIT_DIR}/mosquitto.service.d/limits.conf`;
