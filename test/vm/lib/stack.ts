// The stack the VM tier deploys, rendered by the program's own renderers with the inputs infra/cloud.ts
// (server) and infra/devices.ts (boards) give them. The Pulumi component does this inside `apply`;
// here the same calls run on plain values. Keep in step with infra/cloud.ts (`renderServerPush` call).
import { aclModel } from "../../../protocol";
import { bundleWebApp } from "../../../apps/web/bundle";
import { bundle } from "../../../infra/bundle";
import { SERVER_HOSTNAME, webDevices } from "../../../infra/cloud";
import type { DeviceSettings } from "../../../infra/config";
import { renderCloudConfig } from "../../../infra/render/cloud-config";
import type { Fail2banJailInput } from "../../../infra/render/fail2ban";
import { MQTT_TLS_PORT } from "../../../infra/render/mosquitto";
import { devicePayload, type DevicePlan, planDevice } from "../../../infra/render/device-plan";
import { renderServerPush } from "../../../infra/render/server-files";
import { SERVER_WEB_PATHS } from "../../../infra/render/systemd";
import type { IssuedCert } from "../../../infra/render/x509";
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

/** infra/cloud.ts fail2banInput for this stack. */
const fail2ban: Omit<Fail2banJailInput, "source"> = {
  ignoreIps: [...STACK.adminCidrs],
  mail: { destemail: STACK.alertEmail, sender: STACK.alertEmail },
};

/** The EC2 user data (no secrets): exactly what infra/cloud.ts renders. */
export function serverUserData(): string {
  return renderCloudConfig({ source: SOURCE, hostname: SERVER_HOSTNAME, fail2ban });
}

/** The SSH push script (secret: goes on stdin of `sudo bash -s`), as infra/cloud.ts renders it. */
export async function serverPush(pki: VmPki, webUrl: string): Promise<{ script: string; hash: string }> {
  const webBundle = await bundleWebApp({ minify: true });
  const push = renderServerPush({
    source: SOURCE,
    hostname: SERVER_HOSTNAME,
    pki: {
      caCertPem: pki.ca.certPem,
      serverCertPem: pki.server.certPem,
      serverKeyPem: pki.server.keyPem,
      webCertPem: pki.web.certPem,
      webKeyPem: pki.web.keyPem,
    },
    acl: aclModel([]),
    nginx: { serverName: "_" },
    postfix: {
      relay: { host: STACK.smtp.host, port: STACK.smtp.port, user: STACK.smtp.user },
      smtpPassword: STACK.smtp.password,
      smtpFrom: STACK.alertEmail,
    },
    fail2ban,
    web: {
      bundle: webBundle,
      config: {
        listen: { host: "127.0.0.1", port: 3000 },
        broker: {
          url: `mqtts://localhost:${MQTT_TLS_PORT}`,
          ca: SERVER_WEB_PATHS.ca,
          cert: SERVER_WEB_PATHS.cert,
          key: SERVER_WEB_PATHS.key,
        },
        devices: webDevices([DEVICE]),
        publicOrigin: webUrl,
        cookieSecure: true,
      },
      password: STACK.webPassword,
      sessionSecret: STACK.sessionSecret,
    },
  });
  return { script: push.script, hash: push.hash };
}

/** What infra/devices.ts installs on the board: the plan (commands) and the payload for stdin. */
export function devicePlan(
  caCertPem: string,
  identity: IssuedCert,
  broker: { host: string; port: number },
): { plan: DevicePlan; payload: string } {
  const plan = planDevice({
    source: SOURCE,
    device: DEVICE,
    broker,
    bundle: bundle("device").code,
    caCertPem,
    certPem: identity.certPem,
  });
  return { plan, payload: devicePayload(plan, { keyPem: identity.keyPem }) };
}
