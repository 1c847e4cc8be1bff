// Dynamic DNS without Route53 (the FreeDNS style of the original): a systemd timer calls the update
// URL. The URL is a secret: it lives only in a root-only EnvironmentFile and reaches curl on stdin
// (curl --config -), never in a command line that ps, the journal or the user data could show.
import { renderSystemdUnit, renderTimerUnit, timerUnitPaths, timerUnits } from "./systemd";
import { DEFAULT_SOURCE, header, lines } from "./text";

export const DDNS_UNITS = timerUnits("diy-ddns");

export const DDNS_PATHS = {
  env: "/etc/diy-ddns/env",
  script: "/usr/local/sbin/diy-ddns-update",
  ...timerUnitPaths(DDNS_UNITS),
} as const;

export const DDNS_ENV_VAR = "DDNS_URL";

/** Checks an update URL: http(s), one line. Returns it unchanged. */
export function checkDdnsUrl(url: string): string {
  if (!/^https?:\/\/[^\s]+$/.test(url))
    throw new Error("ddnsUpdateUrl must be one http:// or https:// URL without spaces");
  return url;
}

export function renderDdnsScript(input: { source?: string } = {}): string {
  return lines([
    "#!/bin/sh",
    ...header("#", "infra/render/ddns.ts", input.source ?? DEFAULT_SOURCE),
    `# Calls the dynamic DNS update URL from $${DDNS_ENV_VAR} (EnvironmentFile ${DDNS_PATHS.env}).`,
    "# The URL goes to curl on stdin, never in an argument list.",
    "set -eu",
    `url="\${${DDNS_ENV_VAR}:?${DDNS_ENV_VAR} is not set (see ${DDNS_PATHS.env})}"`,
    "escaped=$(printf '%s' \"$url\" | sed 's/[\\\\\"]/\\\\&/g')",
    'printf \'url = "%s"\\n\' "$escaped" |',
    "  curl --config - --fail --silent --show-error --max-time 30 --retry 3 --output /dev/null",
    'echo "dynamic DNS record updated"',
  ]);
}

export function renderDdnsService(input: { source?: string; script?: string; envFile?: string } = {}): string {
  return renderSystemdUnit({
    source: input.source,
    renderer: "infra/render/ddns.ts",
    sections: {
      Unit: [
        ["Description", "Update the dynamic DNS record (diy-device-cloud)"],
        ["Wants", "network-online.target"],
        ["After", "network-online.target"],
      ],
      Service: [
        ["Type", "oneshot"],
        // systemd (root) reads the 0600 file; the update itself runs as a throwaway user
        ["EnvironmentFile", input.envFile ?? DDNS_PATHS.env],
        ["ExecStart", input.script ?? DDNS_PATHS.script],
        ["DynamicUser", "yes"],
        ["ProtectSystem", "strict"],
        ["ProtectHome", "yes"],
        ["PrivateTmp", "yes"],
        ["NoNewPrivileges", "yes"],
      ],
    },
  });
}

export function renderDdnsTimer(input: { source?: string } = {}): string {
  return renderTimerUnit({
    source: input.source,
    renderer: "infra/render/ddns.ts",
    description: "Refresh the dynamic DNS record hourly (diy-device-cloud)",
    schedule: { OnBootSec: "1min", OnUnitActiveSec: "1h", RandomizedDelaySec: "5min" },
  });
}
