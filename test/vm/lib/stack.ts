// The stack the VM tier deploys, rendered by the program's own code: the same Settings -> files path
// infra/cloud.ts takes (server-input.ts `serverFilesInput`, `renderServerPush`) and infra/devices.ts
// takes for a board (`planDevice`, `devicePayload`). Only the deployment-time values differ: the
// certificates come from a local CA and the public address is QEMU's. test/unit/vm-user-data.test.ts checks
// the user data here against cloud-init 25.1's schema, so the tier boots only what cloud-init accepts.
import { bundle } from "../../../infra/bundle";
import { type DeviceSettings, KEYS, type Os, type Settings } from "../../../infra/config";
import { renderCloudConfig } from "../../../infra/render/cloud-config";
import { BOARD_PROFILES } from "../../../infra/render/device-board";
import { devicePayload, type DevicePlan, planDevice } from "../../../infra/render/device-plan";
import { PUSH_COMMAND, renderServerPush } from "../../../infra/render/server-files";
import type { IssuedCert } from "../../../infra/render/x509";
import { fail2banInput, SERVER_HOSTNAME, serverFilesInput } from "../../../infra/server-input";
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
  return renderCloudConfig({ source: SOURCE, hostname: SERVER_HOSTNAME, fail2ban: fail2banInput(SETTINGS) });
}

/** The push's command line (infra/server.ts): the script on stdin, the admin's home as $1. */
export { PUSH_COMMAND };

/**
 * The SSH push script (secret: goes on stdin of PUSH_COMMAND) and the files copied to the admin's home before it
 * (infra/server.ts remote.CopyToRemote), as infra/cloud.ts renders them.
 */
export async function serverPush(
  pki: VmPki,
  webUrl: string,
): Promise<{ script: string; hash: string; staged: Record<string, string> }> {
  const webBundle = bundle("web").code;
  const push = renderServerPush(
    serverFilesInput(SETTINGS, {
      source: SOURCE,
      webUrl,
      pki: {
        caCertPem: pki.ca.certPem,
        serverCertPem: pki.server.certPem,
        serverKeyPem: pki.server.keyPem,
        webCertPem: pki.web.certPem,
        webKeyPem: pki.web.keyPem,
      },
      webPassword: STACK.webPassword,
      sessionSecret: STACK.sessionSecret,
      smtpPassword: STACK.smtp.password,
      webBundle,
    }),
  );
  return { script: push.script, hash: push.hash, staged: push.staged };
}
/**
 * What infra/devices.ts installs on the board: the plan (commands), the payload for stdin and the files its
 * remote.CopyToRemote copies to the SSH user's home first (path relative to the home -> content).
 */
export function devicePlan(
  device: DeviceSettings,
  caCertPem: string,
  identity: IssuedCert,
  broker: { host: string; port: number },
): { plan: DevicePlan; payload: string; staged: Record<string, string> } {
  const plan = planDevice({
    source: SOURCE,
    device,
    broker,
    bundle: bundle("device").code,
    caCertPem,
    certPem: identity.certPem,
  });
  const staged = Object.fromEntries(
    Object.entries(plan.staged.files).map(([name, content]) => [`${plan.staged.dir}/${name}`, content]),
  );
  return { plan, payload: devicePayload(plan, { keyPem: identity.keyPem }), staged };
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
