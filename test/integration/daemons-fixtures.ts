// Typed renderer inputs for the configurations the daemon tests run: the dev stack's shape and two
// others (a domain with Let's Encrypt paths, SMTP relay, bridges and a CRL; a bare IP-only stack).
import { aclModel } from "../../protocol";
import type { ServerFilesInput } from "../../infra/render/server-files";

export interface Fixture {
  name: string;
  hostname: string;
  input: (pki: ServerFilesInput["pki"]) => ServerFilesInput;
}

const webConfig = (devices: { id: string; outputs: string[]; inputs: string[] }[]) => ({
  listen: { host: "127.0.0.1", port: 3000 },
  broker: { url: "mqtts://127.0.0.1:8883", ca: "/etc/diy-web/ca.pem", cert: "/etc/diy-web/web.pem", key: "/etc/diy-web/web.key" },
  devices,
});

export const FIXTURES: readonly Fixture[] = [
  {
    name: "dev stack (IP only, no relay)",
    hostname: "diy-dev",
    input: (pki) => ({
      source: 'stack "dev"',
      hostname: "diy-dev",
      pki,
      acl: aclModel([]),
      nginx: { serverName: "_" },
      postfix: {},
      web: { bundle: "// web bundle\n", config: webConfig([{ id: "pi1", outputs: ["led"], inputs: ["button"] }]), password: "dev-Password-1", sessionSecret: "s".repeat(40) },
    }),
  },
  {
    name: "prod (domain, SMTP relay with SASL, bridge, CRL, mail on bans)",
    hostname: "iot",
    input: (pki) => ({
      source: 'stack "prod"',
      hostname: "iot",
      pki,
      acl: aclModel([{ id: "gw1", children: ["ard1", "ard2"] }]),
      mosquittoLimits: { maxQueuedMessages: 5000, persistentClientExpiration: "30d" },
      nginx: { serverName: "iot.example.com" },
      postfix: { relay: { host: "smtp.example.com", port: 587, user: "apikey" }, smtpPassword: "Sm7p-Secret-Value", smtpFrom: "iot@example.com" },
      fail2ban: { mail: { destemail: "ops@example.com", sender: "iot@example.com" }, ignoreIps: ["203.0.113.0/24"], nginxLimitReq: {} },
      web: { bundle: "// web bundle\n", config: webConfig([{ id: "pi1", outputs: ["led"], inputs: [] }]), password: "Prod-Password-2", sessionSecret: "p".repeat(48) },
    }),
  },
  {
    name: "relay without login (address-authorised smarthost), many devices",
    hostname: "lab",
    input: (pki) => ({
      source: 'stack "lab"',
      hostname: "lab",
      pki,
      acl: aclModel([{ id: "gw1", children: ["a1"] }, { id: "gw2", children: ["a2", "a3"] }]),
      nginx: { serverName: "_" },
      postfix: { relay: { host: "mail.lab.internal", port: 25 }, smtpFrom: "lab@lab.internal" },
      fail2ban: { sshPort: 2222, bantime: "2h", maxretry: 3 },
      web: { bundle: "// web bundle\n", config: webConfig([]), password: "Lab-Password-3", sessionSecret: "l".repeat(32) },
    }),
  },
];
