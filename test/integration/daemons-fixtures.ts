// Typed renderer inputs for the configurations the daemon tests run: the dev stack's shape and two
// others (a domain with Let's Encrypt paths, SMTP relay, bridges and a CRL; a bare IP-only stack).
import { type CloudConfigInput, renderCloudConfig } from "../../infra/render/cloud-config";
import { type PushFile, type ServerFilesInput, renderServerPush } from "../../infra/render/server-files";
import { createCa, type IssuedCert, issueCert, type Pem, renderCrl } from "../../infra/render/x509";
import { aclModel } from "../../protocol";

export interface Fixture {
  name: string;
  hostname: string;
  /** Device certificates the stack revokes (CRL). */
  revoke?: readonly string[];
  input: (pki: ServerFilesInput["pki"]) => ServerFilesInput;
}

const webConfig = (devices: { id: string; outputs: string[]; inputs: string[] }[]) => ({
  listen: { socket: "/run/diy-web/web.sock", group: "www-data" },
  broker: {
    url: "mqtts://127.0.0.1:8883",
    ca: "/etc/diy-web/ca.pem",
    cert: "/etc/diy-web/web.pem",
    key: "/etc/diy-web/web.key",
  },
  devices,
});

/**
 * What a fixture's stack includes, known before anything is rendered, so a test that only applies
 * to some stacks is registered for those alone (a skipped test would read as a gap).
 */
export function fixtureFeatures(f: Fixture): { bridges: boolean; saslRelay: boolean; revoked: boolean } {
  // The certificates only pass through the input; the shape is all that is read here.
  const input = f.input({} as ServerFilesInput["pki"]);
  return {
    bridges: input.acl.users.some((u) => u.username.endsWith(":bridge")),
    saslRelay: Boolean(input.postfix.relay?.user),
    revoked: (f.revoke?.length ?? 0) > 0,
  };
}

export const FIXTURES: readonly Fixture[] = [
  {
    name: "dev stack (IP only, no relay)",
    hostname: "diy-dev",
    input: (pki) => ({
      source: 'stack "dev"',
      hostname: "diy-dev",
      pki,
      acl: aclModel({ devices: [{ id: "pi1", outputs: ["led"], inputs: ["button"] }] }),
      nginx: { serverName: "_" },
      postfix: {},
      web: {
        bundle: "// web bundle\n",
        config: webConfig([{ id: "pi1", outputs: ["led"], inputs: ["button"] }]),
        password: "dev-Password-1",
        sessionSecret: "s".repeat(40),
      },
    }),
  },
  {
    name: "prod (domain, SMTP relay with SASL, bridge, CRL, mail on bans)",
    hostname: "iot",
    revoke: ["pi9"],
    input: (pki) => ({
      source: 'stack "prod"',
      hostname: "iot",
      pki,
      acl: aclModel({
        devices: [
          { id: "pi1", outputs: ["led"], inputs: [] },
          { id: "pi9", outputs: ["led"], inputs: [] },
          { id: "gw1", outputs: [], inputs: [] },
        ],
        bridges: [
          {
            id: "gw1",
            children: [
              { id: "ard1", outputs: ["relay"], inputs: ["door"] },
              { id: "ard2", outputs: ["led"], inputs: [] },
            ],
          },
        ],
      }),
      mosquittoLimits: { maxQueuedMessages: 5000, persistentClientExpiration: "30d" },
      nginx: { serverName: "iot.example.com" },
      postfix: {
        relay: { host: "smtp.example.com", port: 587, user: "apikey" },
        smtpPassword: "Sm7p-Secret-Value",
        smtpFrom: "iot@example.com",
      },
      fail2ban: {
        mail: { destemail: "ops@example.com", sender: "iot@example.com" },
        ignoreIps: ["203.0.113.0/24"],
        nginxLimitReq: {},
      },
      web: {
        bundle: "// web bundle\n",
        config: webConfig([{ id: "pi1", outputs: ["led"], inputs: [] }]),
        password: "Prod-Password-2",
        sessionSecret: "p".repeat(48),
      },
    }),
  },
  {
    name: "relay without login (address-authorised smarthost), many devices",
    hostname: "lab",
    input: (pki) => ({
      source: 'stack "lab"',
      hostname: "lab",
      pki,
      acl: aclModel({
        devices: [
          { id: "pi1", outputs: ["led"], inputs: [] },
          { id: "gw1", outputs: [], inputs: [] },
          { id: "gw2", outputs: ["led"], inputs: [] },
        ],
        bridges: [
          { id: "gw1", children: [{ id: "a1", outputs: ["led"], inputs: [] }] },
          {
            id: "gw2",
            children: [
              { id: "a2", outputs: [], inputs: ["button"] },
              { id: "a3", outputs: ["led"], inputs: [] },
            ],
          },
        ],
      }),
      nginx: { serverName: "_" },
      postfix: { relay: { host: "mail.lab.internal", port: 25 }, smtpFrom: "lab@lab.internal" },
      fail2ban: { sshPort: 2222, bantime: "2h", maxretry: 3 },
      web: {
        bundle: "// web bundle\n",
        config: webConfig([]),
        password: "Lab-Password-3",
        sessionSecret: "l".repeat(32),
      },
    }),
  },
];

export interface RenderedFixture {
  fixture: Fixture;
  input: ServerFilesInput;
  files: PushFile[];
  script: string;
  userData: string;
  ca: Pem;
  /** A client certificate from the stack CA (CN = id). */
  client: (id: string) => Promise<Pem>;
  /** Certificates issued earlier and listed in the CRL. */
  revoked: Record<string, IssuedCert>;
  content: (path: string) => string;
}

/** Renders everything a fixture's server receives, with a real CA, server cert (127.0.0.1, localhost) and CRL. */
export async function renderFixture(fixture: Fixture): Promise<RenderedFixture> {
  const ca = await createCa({ commonName: `${fixture.hostname} test CA`, days: 2 });
  const server = await issueCert(ca, {
    commonName: "server",
    kind: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    days: 2,
  });
  const web = await issueCert(ca, { commonName: "web", kind: "client", days: 2 });
  const revoked: Record<string, IssuedCert> = {};
  for (const id of fixture.revoke ?? []) revoked[id] = await issueCert(ca, { commonName: id, kind: "client", days: 2 });
  const crlPem = fixture.revoke?.length
    ? await renderCrl({ ca, revoked: Object.values(revoked).map((c) => ({ serial: c.serial })) })
    : undefined;
  const input = fixture.input({
    caCertPem: ca.certPem,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    webCertPem: web.certPem,
    webKeyPem: web.keyPem,
    crlPem,
  });
  const { files, script } = renderServerPush(input);
  const cloud: CloudConfigInput = { source: input.source, hostname: fixture.hostname, fail2ban: input.fail2ban };
  return {
    fixture,
    input,
    files,
    script,
    userData: renderCloudConfig(cloud),
    ca,
    client: (id) => issueCert(ca, { commonName: id, kind: "client", days: 2 }),
    revoked,
    content: (path) => {
      const f = files.find((x) => x.path === path);
      if (!f) throw new Error(`${fixture.name}: no rendered file ${path}`);
      return f.content;
    },
  };
}
