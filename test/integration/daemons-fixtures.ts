// The stacks the daemon tests run, as stack config (what `pulumi config` holds), rendered by the program's own
// infra/render-stack.ts renderStack with certificates from a local CA (scripts/stack-pki.ts): the dev stack's shape
// and two others (a domain with Let's Encrypt, SMTP relay with SASL, a bridge and a CRL; a relay without login and
// two bridges).
import type { Settings } from "../../infra/config";
import { type RenderedStack, renderServerPushOf, renderStack, type StackRenderInput } from "../../infra/render-stack";
import type { PushFile, ServerFilesInput, ServerPki } from "../../infra/render/server-files";
import { type IssuedCert, issueCert, type Pem } from "../../infra/render/x509";
import { issueStackPki } from "../../scripts/stack-pki";
import { settingsFrom } from "../support/settings";

/** An OpenSSH-shaped key that passes config validation; nothing here logs in anywhere. */
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfixture-device-key\n-----END OPENSSH PRIVATE KEY-----\n";

export interface Fixture {
  name: string;
  /** Stack config as `pulumi config` hands it to the program (lists and objects as JSON text). */
  config: Record<string, string>;
  /** The stack's secrets (config set --secret), as plain text. */
  secrets: { webPassword: string; sessionSecret: string; smtpPassword?: string };
}

/** The fixture's Settings, as infra/config.ts reads them from the stack. */
export function fixtureSettings(f: Fixture): Settings {
  const raw: Record<string, string> = {
    ...f.config,
    deviceSshPrivateKey: SSH_KEY,
    ...(f.secrets.smtpPassword === undefined ? {} : { smtpPassword: f.secrets.smtpPassword }),
  };
  return settingsFrom(raw);
}

/**
 * What a fixture's stack includes, known before anything is rendered, so a test that only applies
 * to some stacks is registered for those alone (a skipped test would read as a gap).
 */
export function fixtureFeatures(f: Fixture): { bridges: boolean; saslRelay: boolean; revoked: boolean } {
  const s = fixtureSettings(f);
  return {
    bridges: s.devices.some((d) => d.bridge !== undefined),
    saslRelay: s.smtpHost !== undefined && s.smtpUser !== undefined,
    revoked: s.revokedDevices.length > 0,
  };
}

const device = (id: string, outputs: string[], inputs: string[] = [], extra: object = {}) => ({
  id,
  host: "192.0.2.21",
  board: "generic",
  outputs: outputs.map((name) => ({ name, backend: { type: "simulated" } })),
  inputs: inputs.map((name) => ({ name, backend: { type: "simulated" } })),
  ...extra,
});
const bridge = (id: string, children: { id: string; outputs: string[]; inputs: string[] }[]) =>
  device(id, [], [], { bridge: { lanAddress: "192.0.2.50", children } });

export const FIXTURES: readonly Fixture[] = [
  {
    name: "dev stack (IP only, no relay)",
    config: {
      adminCidrs: JSON.stringify(["198.51.100.7/32"]),
      devices: JSON.stringify([device("pi1", ["led"], ["button"])]),
    },
    secrets: { webPassword: "dev-Password-1", sessionSecret: "s".repeat(40) },
  },
  {
    name: "prod (domain, SMTP relay with SASL, bridge, CRL, mail on bans)",
    config: {
      domain: "iot.example.com",
      adminCidrs: JSON.stringify(["203.0.113.0/24"]),
      alertEmail: "ops@example.com",
      smtpHost: "smtp.example.com",
      smtpPort: "587",
      smtpUser: "apikey",
      smtpFrom: "iot@example.com",
      revokedDevices: JSON.stringify(["pi9"]),
      devices: JSON.stringify([
        device("pi1", ["led"]),
        device("pi9", ["led"]),
        bridge("gw1", [
          { id: "ard1", outputs: ["relay"], inputs: ["door"] },
          { id: "ard2", outputs: ["led"], inputs: [] },
        ]),
      ]),
    },
    secrets: { webPassword: "Prod-Password-2", sessionSecret: "p".repeat(48), smtpPassword: "Sm7p-Secret-Value" },
  },
  {
    name: "relay without login (address-authorised smarthost), many devices",
    config: {
      adminCidrs: JSON.stringify(["192.0.2.0/24"]),
      smtpHost: "mail.lab.internal",
      smtpPort: "25",
      smtpFrom: "lab@lab.internal",
      devices: JSON.stringify([
        device("pi1", ["led"]),
        bridge("gw1", [{ id: "a1", outputs: ["led"], inputs: [] }]),
        device("gw2", ["led"], [], {
          bridge: {
            lanAddress: "192.0.2.51",
            children: [
              { id: "a2", outputs: [], inputs: ["button"] },
              { id: "a3", outputs: ["led"], inputs: [] },
            ],
          },
        }),
      ]),
    },
    secrets: { webPassword: "Lab-Password-3", sessionSecret: "l".repeat(32) },
  },
];

/** The values a fixture's stack is rendered with besides its certificates (which the caller brings). */
export function fixtureValues(f: Fixture): Omit<StackRenderInput, "pki"> {
  const settings = fixtureSettings(f);
  const host = settings.domain ?? "127.0.0.1";
  return {
    settings,
    source: `fixture "${f.name}"`,
    webUrl: `https://${host}`,
    broker: { host, port: 8883 },
    ...f.secrets,
    lanPasswords: Object.fromEntries(
      settings.devices.flatMap((d) =>
        d.bridge
          ? [[d.id, Object.fromEntries(d.bridge.children.map((c) => [c.id, `fixture-lan-password-${c.id}`]))]]
          : [],
      ),
    ),
    webBundle: "// web bundle\n",
    deviceBundle: "// device bundle\n",
  };
}

/** The server's renderer input for given (e.g. stand-in) certificates: what the push is made from. */
export function fixtureInput(f: Fixture, pki: ServerPki): ServerFilesInput {
  const { settings, ...values } = fixtureValues(f);
  const identity = (certPem: string, keyPem: string) => ({ certPem, keyPem });
  return renderServerPushOf(settings, {
    ...values,
    pki: {
      caCertPem: pki.caCertPem,
      server: identity(pki.serverCertPem, pki.serverKeyPem),
      web: identity(pki.webCertPem, pki.webKeyPem),
      ...(pki.crlPem === undefined ? {} : { crlPem: pki.crlPem }),
    },
  }).input;
}

/** What the daemon tests read of a rendered stack: the server's renderer input, push files and script, user data. */
export interface FixtureServer {
  stack: RenderedStack;
  input: ServerFilesInput;
  files: PushFile[];
  script: string;
  userData: string;
}

/** A fixture's stack rendered from the given material (renderFixture's own, or another caller's). */
export function fixtureServer(input: StackRenderInput): FixtureServer {
  const stack = renderStack(input);
  const { push } = stack.server;
  return { stack, input: stack.server.input, files: push.files, script: push.script, userData: stack.server.userData };
}

export interface RenderedFixture extends FixtureServer {
  fixture: Fixture;
  ca: Pem;
  /** A client certificate from the stack CA (CN = id). */
  client: (id: string) => Promise<Pem>;
  /** Certificates issued earlier and listed in the CRL. */
  revoked: Record<string, IssuedCert>;
  content: (path: string) => string;
}

/** Renders everything a fixture's stack ships, with a real CA, server cert (127.0.0.1, localhost) and CRL. */
export async function renderFixture(fixture: Fixture): Promise<RenderedFixture> {
  const settings = fixtureSettings(fixture);
  const { ca, pki } = await issueStackPki(settings, { caName: `${fixture.name} test CA`, serverIps: [], days: 2 });
  const server = fixtureServer({ ...fixtureValues(fixture), pki });
  const revoked = Object.fromEntries(
    settings.revokedDevices.flatMap((id) => (pki.clients[id] ? [[id, pki.clients[id]]] : [])),
  );
  return {
    fixture,
    ...server,
    ca,
    client: (id) => issueCert(ca, { commonName: id, kind: "client", days: 2 }),
    revoked,
    content: (path) => {
      const f = server.files.find((x) => x.path === path);
      if (!f) throw new Error(`${fixture.name}: no rendered file ${path}`);
      return f.content;
    },
  };
}
