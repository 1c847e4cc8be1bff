// The stack the VM tier deploys, rendered by the program's own code: infra/render-stack.ts renderStack, the one
// Settings -> files function the Pulumi program applies. Only the deployment-time values differ: the
// certificates come from a local CA and the public address is QEMU's. test/unit/vm-user-data.test.ts checks
// the user data here against cloud-init 25.1's schema, so the tier boots only what cloud-init accepts.
import { bundle } from "../../../infra/bundle";
import { type DeviceSettings, KEYS, type Os, type Settings } from "../../../infra/config";
import { BOARD_PROFILES } from "../../../infra/render/device-board";
import type { DevicePlan } from "../../../infra/render/device-plan";
import { PUSH_COMMAND } from "../../../infra/render/server-files";
import { type RenderedStack, renderStack, renderUserData } from "../../../infra/render-stack";
import type { VmPki } from "./pki";

export const SOURCE = "VM tier (test/vm), stack vm";

/** Debian suites the tier boots (scripts/vm/build-image.sh): the server's `os`, boards on both releases. */
export type Suite = "bookworm" | "trixie";
/** The Debian release of each server `os` the tier can boot (Ubuntu has no image recipe here). */
const SUITE_OF_OS: Partial<Record<Os, Suite>> = { debian12: "bookworm", debian13: "trixie" };

const pi = BOARD_PROFILES.raspberrypi;
function must<T>(b: T | undefined): T {
  if (b === undefined) throw new Error("the Raspberry Pi profile has no default line");
  return b;
}

/**
 * A Raspberry Pi board as the VM tier stands it up: a device VM with a gpio-sim chip whose lines are named
 * like the Pi's (scripts/vm/gpio-sim-chip.sh), driven through the Raspberry Pi profile's default lines
 * (LED on GPIO17, active-low button with pull-up on GPIO27) by the real gpiod backend.
 */
export interface Board {
  settings: DeviceSettings;
  suite: Suite;
  /** libgpiod major of the suite's `gpiod` package: 1.6 on bookworm, 2.2 on trixie. */
  libgpiod: 1 | 2;
}

function piBoard(id: string, suite: Suite): Board {
  return {
    suite,
    libgpiod: suite === "bookworm" ? 1 : 2,
    settings: {
      id,
      host: "10.0.2.2",
      port: 22,
      user: "pi",
      board: "raspberrypi",
      outputs: [{ name: "led", safeState: "off", backend: must(pi.defaultOutput(0)) }],
      inputs: [{ name: "button", backend: must(pi.defaultInput(0)) }],
    },
  };
}

/** Raspberry Pi OS bookworm (libgpiod 1.6) and trixie (libgpiod 2.2), as Debian 12 and 13 VMs. */
export const BOARDS: readonly Board[] = [piBoard("pi12", "bookworm"), piBoard("pi13", "trixie")];

/** Stack values the checks need to know. */
export const STACK = {
  adminCidrs: ["198.51.100.7/32"],
  alertEmail: "ops@example.com",
  smtp: { host: "smtp.example.com", port: 587, user: "relay-user@example.com", password: "relay-password-not-real" },
  webPassword: "vm-tier-web-password-0123",
  sessionSecret: "vm-tier-session-secret-0123456789abcdef0123456789",
} as const;

/** The validated stack settings (what infra/config.ts would produce for this stack; secrets passed separately). */
export const SETTINGS: Settings = {
  instanceType: "t3.micro",
  arch: "x86_64",
  os: KEYS.os.default,
  broker: KEYS.broker.default,
  adminUser: "admin",
  adminCidrs: [...STACK.adminCidrs],
  allowSshFromAnywhere: false,
  alertEmail: STACK.alertEmail,
  smtpHost: STACK.smtp.host,
  smtpPort: STACK.smtp.port,
  smtpUser: STACK.smtp.user,
  offlineAlertMinutes: 10,
  alertRateLimitMinutes: 60,
  certExpiryWarnDays: 21,
  certValidityDays: 397,
  certEarlyRenewalDays: 30,
  certRotation: "0",
  revokedDevices: [],
  devices: BOARDS.map((b) => b.settings),
  integrations: { homeAssistant: false },
  tags: {},
};

/** The server VM's release: that of the stack's default `os` (Debian 13), as a new stack gets. */
export const SERVER_SUITE: Suite = (() => {
  const suite = SUITE_OF_OS[SETTINGS.os];
  if (!suite) throw new Error(`the VM tier has no image for os ${SETTINGS.os}`);
  return suite;
})();

/** The EC2 user data (no secrets): exactly what infra/cloud.ts renders. */
export function serverUserData(): string {
  return renderUserData(SETTINGS, { source: SOURCE });
}

/** The push's command line (infra/server.ts): the script on stdin, the admin's home as $1. */
export { PUSH_COMMAND };

/**
 * Every file of the stack for the VMs: the page at `webUrl` (the host's forward of the server's 443), boards dialling
 * `broker` (QEMU's gateway and the host's forward of 8883).
 */
export function vmStack(pki: VmPki, at: { webUrl: string; broker: { host: string; port: number } }): RenderedStack {
  return renderStack({
    settings: SETTINGS,
    source: SOURCE,
    webUrl: at.webUrl,
    broker: at.broker,
    pki: {
      caCertPem: pki.ca.certPem,
      server: pki.server,
      web: pki.web,
      clients: Object.fromEntries(pki.devices),
      bridges: {},
    },
    webPassword: STACK.webPassword,
    sessionSecret: STACK.sessionSecret,
    smtpPassword: STACK.smtp.password,
    webBundle: bundle("web").code,
    deviceBundle: bundle("device").code,
  });
}

/**
 * The SSH push script (secret: goes on stdin of PUSH_COMMAND) and the files copied to the admin's home before it
 * (infra/server.ts remote.CopyToRemote), as infra/cloud.ts renders them.
 */
export function serverPush(stack: RenderedStack): { script: string; hash: string; staged: Record<string, string> } {
  const { push } = stack.server;
  return { script: push.script, hash: push.hash, staged: push.staged };
}

/**
 * What infra/devices.ts installs on the board: the plan (commands), the payload for stdin and the files its
 * remote.CopyToRemote copies to the SSH user's home first (path relative to the home -> content).
 */
export function devicePlan(
  stack: RenderedStack,
  deviceId: string,
): { plan: DevicePlan; payload: string; staged: Record<string, string> } {
  const rendered = stack.devices.find((d) => d.device.id === deviceId);
  if (!rendered) throw new Error(`the VM stack has no device ${deviceId}`);
  const { plan, payload } = rendered;
  const staged = Object.fromEntries(
    Object.entries(plan.staged.files).map(([name, content]) => [`${plan.staged.dir}/${name}`, content]),
  );
  return { plan, payload, staged };
}

/**
 * Does what remote.CopyToRemote does before the push and the install: writes each file, as the SSH user, at its
 * path relative to that user's home (the SFTP server starts there), creating the directories.
 */
export async function copyToRemote(
  ssh: { check(command: string, opts: { input?: string; timeoutMs?: number }): Promise<string> },
  files: Record<string, string>,
): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    if (!/^[A-Za-z0-9._/-]+$/.test(rel) || rel.split("/").includes("..")) throw new Error(`bad staged path ${rel}`);
    await ssh.check(`mkdir -p "$(dirname "$HOME/${rel}")" && cat > "$HOME/${rel}"`, {
      input: content,
      timeoutMs: 5 * 60_000,
    });
  }
}

/** User data of a board VM: user `pi` reachable with the device SSH key, as on a Raspberry Pi OS image. */
export function boardUserData(device: DeviceSettings, publicKey: string): string {
  return `#cloud-config
hostname: ${device.id}
manage_etc_hosts: true
ssh_pwauth: false
users:
  - name: ${device.user}
    shell: /bin/bash
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    lock_passwd: true
    ssh_authorized_keys: [${JSON.stringify(publicKey)}]
`;
}
