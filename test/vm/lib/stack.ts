// The stack the VM tier deploys, rendered by the program's own code: the same Settings -> files path
// infra/cloud.ts takes (server-input.ts `serverFilesInput`, `renderServerPush`) and infra/devices.ts
// takes for a board (`planDevice`, `devicePayload`). Only the deployment-time values differ: the
// certificates come from a local CA and the public address is QEMU's.
import { bundle } from "../../../infra/bundle";
import type { DeviceSettings, Settings } from "../../../infra/config";
import { renderCloudConfig } from "../../../infra/render/cloud-config";
import { devicePayload, type DevicePlan, planDevice } from "../../../infra/render/device-plan";
import { PUSH_COMMAND, renderServerPush } from "../../../infra/render/server-files";
import type { IssuedCert } from "../../../infra/render/x509";
import { fail2banInput, SERVER_HOSTNAME, serverFilesInput } from "../../../infra/server-input";
import type { VmPki } from "./pki";

export const SOURCE = "VM tier (test/vm), stack vm";

/** One board: the device VM stands in for a generic Linux board with a simulated LED. */
export const DEVICE: DeviceSettings = {
  id: "pi1",
  host: "10.0.2.2",
  port: 22,
  user: "pi",
  board: "generic",
  outputs: [{ name: "led", safeState: "off", backend: { type: "simulated" } }],
  inputs: [],
};

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
  os: "debian12",
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
  devices: [DEVICE],
  integrations: { homeAssistant: false },
  tags: {},
};

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
  caCertPem: string,
  identity: IssuedCert,
  broker: { host: string; port: number },
): { plan: DevicePlan; payload: string; staged: Record<string, string> } {
  const plan = planDevice({
    source: SOURCE,
    device: DEVICE,
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
