// npm run render -- --out DIR [--stack dev]
// Writes every file the stack would put on a machine, rendered by the same functions the Pulumi program
// calls, so anyone can read or lint what `pulumi up` deploys. Cloud values that only exist after
// deployment get placeholders: the Elastic IP is 203.0.113.10 (a documentation address), certificates
// come from a throwaway local CA made for this run, and secrets not in the stack file (they are
// encrypted there) are the text PLACEHOLDER-<key>.
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { bundle } from "../infra/bundle";
import { ConfigError, parseSettings, type SecretKey, type Settings } from "../infra/config";
import { renderCloudConfig, USER_DATA_LIMIT_BYTES } from "../infra/render/cloud-config";
import { devicePayload, planDevice } from "../infra/render/device-plan";
import { MQTT_TLS_PORT } from "../infra/render/mosquitto";
import { renderServerPush } from "../infra/render/server-files";
import { createCa, issueCert, type IssuedCert, renderCrl } from "../infra/render/x509";
import { fail2banInput, SERVER_HOSTNAME, serverFilesInput } from "../infra/server-input";
import { readStackFile } from "../infra/stack-file";
import { bridgeIdentity } from "../protocol";

export const PLACEHOLDER_IP = "203.0.113.10";
/** Stands in for the history volume's id, which EC2 gives at `pulumi up`. */
export const PLACEHOLDER_VOLUME_ID = "vol-0123456789abcdef0";

/** An OpenSSH-shaped key that passes validation; it opens nothing. */
const PLACEHOLDER_SSH_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nPLACEHOLDER-deviceSshPrivateKey\n-----END OPENSSH PRIVATE KEY-----\n";

/** A throwaway ED25519 public key in OpenSSH form, standing in for the stack's admin key (RFC 8709 encoding). */
function placeholderAdminKey(): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]);
  return `ssh-ed25519 ${blob.toString("base64")} render-placeholder-admin-key`;
}

export interface RenderOptions {
  stack: string;
  out: string;
  /** Project directory holding Pulumi.<stack>.yaml (default: this repository). */
  projectDir?: string;
  /** Build the real web and device bundles (default true); false writes a one-line stand-in (tests). */
  bundles?: boolean;
}

export interface RenderResult {
  files: { path: string; secret: boolean; bytes: number }[];
  settings: Settings;
}

function usage(): never {
  console.error("usage: npm run render -- --out DIR [--stack dev]");
  process.exit(2);
}

function parseArgs(argv: string[]): RenderOptions {
  let out: string | undefined;
  let stack = "dev";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out") out = argv[++i];
    else if (a === "--stack") stack = argv[++i] ?? usage();
    else if (a === "--help" || a === "-h") usage();
    else usage();
  }
  if (!out) usage();
  return { out, stack };
}

/** Secret keys the stack needs but cannot show in its file get a placeholder, so validation runs as for `up`. */
function withPlaceholders(raw: Record<string, string>): { raw: Record<string, string>; placeholders: SecretKey[] } {
  const out = { ...raw };
  const placeholders: SecretKey[] = [];
  const hasDevices = (() => {
    try {
      return (JSON.parse(raw.devices ?? "[]") as unknown[]).length > 0;
    } catch {
      return false;
    }
  })();
  if (hasDevices && !out.deviceSshPrivateKey) {
    out.deviceSshPrivateKey = PLACEHOLDER_SSH_KEY;
    placeholders.push("deviceSshPrivateKey");
  }
  if (out.smtpUser && !out.smtpPassword) {
    out.smtpPassword = "PLACEHOLDER-smtpPassword";
    placeholders.push("smtpPassword");
  }
  return { raw: out, placeholders };
}

export async function renderStack(opts: RenderOptions): Promise<RenderResult> {
  const projectDir = opts.projectDir ?? path.resolve(__dirname, "..");
  const stackFile = path.join(projectDir, `Pulumi.${opts.stack}.yaml`);
  if (!fs.existsSync(stackFile))
    throw new Error(`no stack file ${stackFile} (create it with pulumi stack init ${opts.stack})`);
  const { raw } = withPlaceholders(readStackFile(stackFile).raw);
  const plain = (k: SecretKey) => raw[k];
  const settings = parseSettings(raw, (k) => pulumi.secret(String(raw[k])));
  const s = settings;
  const source = `stack ${opts.stack} (npm run render; placeholders for cloud values)`;
  const host = s.domain ?? PLACEHOLDER_IP;
  const days = s.certValidityDays;

  const ca = await createCa({ commonName: "DIY Device Cloud CA (render placeholder)" });
  const server = await issueCert(ca, {
    commonName: s.domain ?? "server",
    kind: "server",
    dnsNames: ["localhost", ...(s.domain ? [s.domain] : [])],
    ipAddresses: [PLACEHOLDER_IP, "127.0.0.1"],
    days,
  });
  const web = await issueCert(ca, { commonName: "web", kind: "client", days });
  const clients: Record<string, IssuedCert> = {};
  for (const d of s.devices) clients[d.id] = await issueCert(ca, { commonName: d.id, kind: "client", days });
  const bridges: Record<string, IssuedCert> = {};
  for (const d of s.devices)
    if (d.bridge) bridges[d.id] = await issueCert(ca, { commonName: bridgeIdentity(d.id), kind: "client", days });
  const crlPem =
    s.revokedDevices.length > 0
      ? await renderCrl({
          ca,
          // A revoked bridge board's bridge connection is revoked with it.
          revoked: s.revokedDevices.flatMap((id) =>
            [clients[id], bridges[id]].flatMap((c) => (c ? [{ serial: c.serial }] : [])),
          ),
        })
      : undefined;

  const files: RenderResult["files"] = [];
  const write = (rel: string, content: string, secret = false) => {
    const file = path.join(opts.out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode: secret ? 0o600 : 0o644 });
    files.push({ path: rel, secret, bytes: Buffer.byteLength(content) });
  };

  // Server: user data, then every pushed file at its path under server/, and the push script itself.
  const userData = renderCloudConfig({
    source,
    hostname: SERVER_HOSTNAME,
    fail2ban: fail2banInput(s),
    adminPublicKeys: [placeholderAdminKey()],
  });
  if (Buffer.byteLength(userData) > USER_DATA_LIMIT_BYTES)
    throw new Error(`user data is over EC2's ${USER_DATA_LIMIT_BYTES} bytes`);
  write("server/user-data.yaml", userData);
  const webBundle = opts.bundles === false ? "// web bundle stand-in\n" : bundle("web").code;
  const push = renderServerPush(
    serverFilesInput(s, {
      source,
      webUrl: `https://${host}`,
      pki: {
        caCertPem: ca.certPem,
        serverCertPem: server.certPem,
        serverKeyPem: server.keyPem,
        webCertPem: web.certPem,
        webKeyPem: web.keyPem,
        crlPem,
      },
      webPassword: "PLACEHOLDER-webPassword",
      sessionSecret: "PLACEHOLDER-sessionSecret",
      smtpPassword: plain("smtpPassword"),
      webBundle,
      historyVolumeId: PLACEHOLDER_VOLUME_ID,
    }),
  );
  for (const f of push.files) write(path.join("server/files", f.path), f.content, f.secret === true);
  write("server/push.sh", push.script, true);
  // Copied to the admin's home before the push runs (remote.CopyToRemote), not sent on its stdin.
  for (const [rel, content] of Object.entries(push.staged)) write(path.join("server/staged", rel), content);

  // Devices: the install payload's files and the install/uninstall scripts, per board.
  const deviceBundle =
    opts.bundles === false ? "// device bundle stand-in\n" : s.devices.length > 0 ? bundle("device").code : "";
  for (const d of s.devices) {
    const cert = clients[d.id] as IssuedCert;
    const bridgeCert = bridges[d.id];
    const plan = planDevice({
      source,
      device: d,
      broker: { host, port: MQTT_TLS_PORT },
      bundle: deviceBundle,
      caCertPem: ca.certPem,
      certPem: cert.certPem,
      ...(bridgeCert ? { bridgeCertPem: bridgeCert.certPem } : {}),
    });
    for (const [name, content] of Object.entries(plan.files))
      if (content !== undefined) write(`devices/${d.id}/files/${name}`, content);
    write(`devices/${d.id}/files/device.key`, cert.keyPem, true);
    if (bridgeCert) write(`devices/${d.id}/files/bridge.key`, bridgeCert.keyPem, true);
    // Copied to the SSH user's home on the board before the install (remote.CopyToRemote), not sent on stdin.
    for (const [name, content] of Object.entries(plan.staged.files))
      write(`devices/${d.id}/staged/${plan.staged.dir}/${name}`, content);
    write(`devices/${d.id}/install.sh`, plan.installScript);
    write(`devices/${d.id}/uninstall.sh`, plan.uninstallScript);
    const lanPasswords = d.bridge
      ? Object.fromEntries(d.bridge.children.map((c) => [c.id, `PLACEHOLDER-lan-password-${c.id}`]))
      : undefined;
    write(
      `devices/${d.id}/payload.txt`,
      devicePayload(plan, {
        keyPem: cert.keyPem,
        lanPasswords,
        ...(bridgeCert ? { bridgeKeyPem: bridgeCert.keyPem } : {}),
      }),
      true,
    );
  }

  write("pki/ca.pem", ca.certPem);
  const manifest = [
    `# Rendered by scripts/render.ts for ${source}.`,
    `# Placeholders: public IP ${PLACEHOLDER_IP}; history volume ${PLACEHOLDER_VOLUME_ID}; a throwaway CA made for this run; secrets PLACEHOLDER-<key>.`,
    "# secret  bytes  path",
    ...files.map((f) => `${f.secret ? "secret" : "-     "}  ${String(f.bytes).padStart(7)}  ${f.path}`),
  ];
  write("MANIFEST.txt", `${manifest.join("\n")}\n`);
  return { files, settings };
}

if (require.main === module) {
  const opts = parseArgs(process.argv.slice(2));
  renderStack(opts)
    .then((r) => {
      console.log(`wrote ${r.files.length} files for stack ${opts.stack} to ${opts.out} (see MANIFEST.txt)`);
    })
    .catch((e: unknown) => {
      console.error(e instanceof ConfigError ? e.message : e);
      process.exit(1);
    });
}
