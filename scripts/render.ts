// npm run render -- --out DIR [--stack dev]
// Writes every file the stack would put on a machine, rendered by the same function the Pulumi program
// calls (infra/render-stack.ts renderStack), so anyone can read or lint what `pulumi up` deploys. Cloud values that only exist after
// deployment get placeholders: the Elastic IP is 203.0.113.10 (a documentation address), certificates
// come from a throwaway local CA made for this run, and secrets not in the stack file (they are
// encrypted there) are the text PLACEHOLDER-<key>.
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { bundle } from "../infra/bundle";
import { iotCoreCaBundle } from "../infra/amazon-root-ca";
import { ConfigError, NAMESPACE, parseSettings, type SecretKey, type Settings } from "../infra/config";
import { LONGEST_IOT_ARN } from "../infra/config/iot-core";
import { iotPolicyName } from "../infra/iot-core";
import { iotIdentities, renderIotPolicies } from "../infra/render/iot-policy";
import { stackAclModel } from "../infra/stack-acl";
import { iotNamePrefix } from "../protocol";
import { USER_DATA_LIMIT_BYTES } from "../infra/render/cloud-config";
import { MQTT_TLS_PORT } from "../infra/render/mosquitto";
import {
  deviceIdentities,
  mqttIdentities,
  renderStack,
  type StackMaterial,
  type StackRenderInput,
} from "../infra/render-stack";
import { readStackFile } from "../infra/stack-file";
import { issueIotStandIns, issueStackPki } from "./stack-pki";

export const PLACEHOLDER_IP = "203.0.113.10";
/** Stands in for the account's IoT Core ATS data endpoint (aws.iot.getEndpoint iot:Data-ATS) in its region. */
export const placeholderIotEndpoint = (region: string) => `a0example0000-ats.iot.${region}.amazonaws.com`;
/** Stands in for the AWS account id in the IoT policies' ARNs (the AWS documentation's example account). */
export const PLACEHOLDER_ACCOUNT_ID = "123456789012";
/** The region when the stack file names none (`aws:region`). */
export const DEFAULT_RENDER_REGION = "us-east-1";
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

/**
 * Stand-ins for what only exists after `pulumi up`: a throwaway CA made for this run and its certificates (as
 * infra/pki.ts issues them), the placeholder address and volume id, PLACEHOLDER-<key> secrets.
 */
async function placeholderMaterial(
  s: Settings,
  source: string,
  bundles: boolean,
  iot: { region: string; thingPrefix: string },
): Promise<StackMaterial> {
  const host = s.domain ?? PLACEHOLDER_IP;
  const { pki: stackPki } = await issueStackPki(s, {
    caName: "DIY Device Cloud CA (render placeholder)",
    serverIps: [PLACEHOLDER_IP],
    days: s.certValidityDays,
  });
  // IoT Core revokes by deactivating a certificate: no CRL. Its identities stand in for the ones AWS IoT issues.
  const { crlPem: _crl, ...iotPki } = stackPki;
  const pki = s.broker === "iot-core" ? iotPki : stackPki;
  const broker: StackMaterial["broker"] =
    s.broker === "iot-core"
      ? {
          kind: "iot-core",
          endpoint: placeholderIotEndpoint(iot.region),
          region: iot.region,
          thingPrefix: iot.thingPrefix,
          caCertPem: iotCoreCaBundle(),
          identities: await issueIotStandIns(s, {
            caName: "AWS IoT certificate stand-in (render placeholder)",
            days: s.certValidityDays,
          }),
        }
      : { host, port: MQTT_TLS_PORT };
  const lanPasswords = Object.fromEntries(
    s.devices.flatMap((d) =>
      d.bridge
        ? [[d.id, Object.fromEntries(d.bridge.children.map((c) => [c.id, `PLACEHOLDER-lan-password-${c.id}`]))]]
        : [],
    ),
  );
  return {
    source,
    webUrl: `https://${host}`,
    broker,
    adminPublicKeys: [placeholderAdminKey()],
    pki,
    webPassword: "PLACEHOLDER-webPassword",
    sessionSecret: "PLACEHOLDER-sessionSecret",
    historyVolumeId: PLACEHOLDER_VOLUME_ID,
    lanPasswords,
    webBundle: bundles ? bundle("web").code : "// web bundle stand-in\n",
    deviceBundle: !bundles ? "// device bundle stand-in\n" : s.devices.length > 0 ? bundle("device").code : "",
  };
}

/**
 * Writes every file of the stack (infra/render-stack.ts renderStack) under `out`: server/ (user data, each pushed
 * file at its path, the push script, the staged copies), devices/<id>/ (the install's files, scripts and payload),
 * pki/ca.pem and MANIFEST.txt (`notes` go into its header).
 */
export function writeStack(out: string, input: StackRenderInput, notes: readonly string[] = []): RenderResult["files"] {
  const stack = renderStack(input);
  const files: RenderResult["files"] = [];
  const write = (rel: string, content: string, secret = false) => {
    const file = path.join(out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode: secret ? 0o600 : 0o644 });
    files.push({ path: rel, secret, bytes: Buffer.byteLength(content) });
  };

  // Server: user data, then every pushed file at its path under server/, and the push script itself.
  const { userData, push } = stack.server;
  if (Buffer.byteLength(userData) > USER_DATA_LIMIT_BYTES)
    throw new Error(`user data is over EC2's ${USER_DATA_LIMIT_BYTES} bytes`);
  write("server/user-data.yaml", userData);
  for (const f of push.files) write(path.join("server/files", f.path), f.content, f.secret === true);
  write("server/push.sh", push.script, true);
  // Copied to the admin's home before the push runs (remote.CopyToRemote), not sent on its stdin.
  for (const [rel, content] of Object.entries(push.staged)) write(path.join("server/staged", rel), content);

  // Devices: the install payload's files and the install/uninstall scripts, per board.
  for (const { device: d, plan, payload } of stack.devices) {
    const mqtt = mqttIdentities(input);
    const { identity, bridgeIdentity } = deviceIdentities(d, mqtt.clients, mqtt.bridges);
    for (const [name, content] of Object.entries(plan.files))
      if (content !== undefined) write(`devices/${d.id}/files/${name}`, content);
    write(`devices/${d.id}/files/device.key`, identity.keyPem, true);
    if (bridgeIdentity) write(`devices/${d.id}/files/bridge.key`, bridgeIdentity.keyPem, true);
    // Copied to the SSH user's home on the board before the install (remote.CopyToRemote), not sent on stdin.
    for (const [name, content] of Object.entries(plan.staged.files))
      write(`devices/${d.id}/staged/${plan.staged.dir}/${name}`, content);
    write(`devices/${d.id}/install.sh`, plan.installScript);
    write(`devices/${d.id}/uninstall.sh`, plan.uninstallScript);
    write(`devices/${d.id}/payload.txt`, payload, true);
  }

  const b = input.broker;
  if (b.kind === "iot-core") {
    // What `pulumi up` creates on IoT Core, for review: each identity's thing and its policy documents, rendered
    // from the stack's ACL model as the program renders them (infra/render/iot-policy.ts).
    const ctx = { partition: "aws", region: b.region, accountId: PLACEHOLDER_ACCOUNT_ID };
    const identities = iotIdentities(stackAclModel(input.settings), b.thingPrefix);
    write("iot/things.txt", `${identities.map((id) => `${id.identity}\t${id.thingName}`).join("\n")}\n`);
    // Split as the program splits them (infra/iot-core.ts: packed as at the longest ARN).
    for (const id of identities)
      renderIotPolicies(ctx, id, { packAs: LONGEST_IOT_ARN }).forEach((doc, i) =>
        write(`iot/policies/${iotPolicyName(id.thingName, i)}.json`, `${JSON.stringify(doc, null, 2)}\n`),
      );
    write("iot/AmazonRootCA.pem", b.caCertPem);
  }
  write("pki/ca.pem", input.pki.caCertPem);
  const manifest = [
    `# Rendered by scripts/render.ts for ${input.source}.`,
    ...notes.map((n) => `# ${n}`),
    "# secret  bytes  path",
    ...files.map((f) => `${f.secret ? "secret" : "-     "}  ${String(f.bytes).padStart(7)}  ${f.path}`),
  ];
  write("MANIFEST.txt", `${manifest.join("\n")}\n`);
  return files;
}

export async function renderStackToDir(opts: RenderOptions): Promise<RenderResult> {
  const projectDir = opts.projectDir ?? path.resolve(__dirname, "..");
  const stackFile = path.join(projectDir, `Pulumi.${opts.stack}.yaml`);
  if (!fs.existsSync(stackFile))
    throw new Error(`no stack file ${stackFile} (create it with pulumi stack init ${opts.stack})`);
  const file = readStackFile(stackFile);
  const { raw } = withPlaceholders(file.raw);
  const settings = parseSettings(raw, (k) => pulumi.secret(String(raw[k])));
  const source = `stack ${opts.stack} (npm run render; placeholders for cloud values)`;
  const region = file.all["aws:region"] ?? DEFAULT_RENDER_REGION;
  const iot = { region, thingPrefix: iotNamePrefix(NAMESPACE, opts.stack) };
  const material = await placeholderMaterial(settings, source, opts.bundles !== false, iot);
  const files = writeStack(opts.out, { settings, ...material, smtpPassword: raw.smtpPassword }, [
    `Placeholders: public IP ${PLACEHOLDER_IP}; history volume ${PLACEHOLDER_VOLUME_ID}; a throwaway CA made for this run; secrets PLACEHOLDER-<key>.`,
    ...(settings.broker === "iot-core"
      ? [
          `broker iot-core: endpoint ${placeholderIotEndpoint(region)}, account ${PLACEHOLDER_ACCOUNT_ID}, region ${region}${file.all["aws:region"] ? "" : " (the stack file names no aws:region)"}; stand-in certificates for the ones AWS IoT issues. iot/: the things and their policies.`,
        ]
      : []),
  ]);
  return { files, settings };
}

if (require.main === module) {
  const opts = parseArgs(process.argv.slice(2));
  renderStackToDir(opts)
    .then((r) => {
      console.log(`wrote ${r.files.length} files for stack ${opts.stack} to ${opts.out} (see MANIFEST.txt)`);
    })
    .catch((e: unknown) => {
      console.error(e instanceof ConfigError ? e.message : e);
      process.exit(1);
    });
}
