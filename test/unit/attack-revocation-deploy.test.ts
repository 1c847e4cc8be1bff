// Attack suite, finding 9: revocation on the deploy path. The program signs the CRL itself (infra/crl.ts)
// from the CA key @pulumi/tls generated; with real keys and certificates from the mocks (tls-double.ts)
// the CRL that reaches the server push must name every revoked device's certificate serial, as OpenSSL
// reads it, and OpenSSL must refuse exactly those devices' certificates against it.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { SERVER_MOSQUITTO_PATHS as M } from "../../infra/render/mosquitto";
import { readStackFile } from "../../infra/stack-file";
import { deployCloud, SECRET_MARKER, TEST_SSH_KEY } from "./program-harness";
import { verifyAgainstCrl } from "../support/openssl";

const root = path.resolve(__dirname, "../..");
const dir = mkdtempSync(path.join(tmpdir(), "attack-revocation-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const openssl = (args: string[]) => spawnSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** The files a push script installs: `put PATH MODE OWNER GROUP SHA256 <<'DELIM'` + base64 lines. */
function pushedFiles(script: string): Map<string, string> {
  const files = new Map<string, string>();
  const re = /^\s*put (\S+) \S+ \S+ \S+ [0-9a-f]{64} <<'(\S+)'\n([\s\S]*?)\n\s*\2$/gm;
  for (const m of script.matchAll(re))
    files.set(m[1] as string, Buffer.from((m[3] as string).replace(/\s/g, ""), "base64").toString("utf8"));
  return files;
}

async function buildWithRevoked(revoked: string[]) {
  const raw: Record<string, unknown> = {
    ...readStackFile(path.join(root, "Pulumi.example-full.yaml")).raw,
    deviceSshPrivateKey: TEST_SSH_KEY,
    smtpPassword: `${SECRET_MARKER}-smtp`,
    revokedDevices: JSON.stringify(revoked),
  };
  // settle (in deployCloud) fails on the error diagnostic stackCrl logs when it cannot sign
  const { h, settings } = await deployCloud(raw, { name: `rev-${revoked.join("-")}`, webBundle: "/* web */\n" });
  const push = h.ofType("command:remote:Command").find((r) => r.name.endsWith("-push"));
  assert.ok(push, "no server push");
  const certOf = (id: string) =>
    h.ofType("tls:index/locallySignedCert:LocallySignedCert").find((r) => r.name.endsWith(`-client-${id}`))?.state
      .certPem as string;
  return { files: pushedFiles(push.inputs.stdin as string), certOf, settings };
}

describe("attack: a revoked device's certificate is refused by the CRL the deploy pushes", () => {
  test("the pushed CRL, signed by the stack CA, names each revoked device's serial and no other", async () => {
    const { files, certOf, settings } = await buildWithRevoked(["pi1", "bbb1"]);
    const crl = files.get(M.crlfile);
    assert.ok(crl, `no CRL in the push; pushed: ${[...files.keys()].join(", ")}`);
    assert.ok((files.get(M.conf) ?? "").split("\n").includes(`crlfile ${M.crlfile}`), "mosquitto.conf names the CRL");
    const caFile = write("ca.pem", files.get(M.cafile) ?? "");
    const crlFile = write("crl.pem", crl);
    const text = openssl(["crl", "-in", crlFile, "-CAfile", caFile, "-noout", "-text"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stderr + text.stdout, /verify OK/);
    const listed = [...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => (m[1] as string).toLowerCase());

    for (const d of settings.devices) {
      const certFile = write(`${d.id}.pem`, certOf(d.id));
      const serial = execFileSync("openssl", ["x509", "-in", certFile, "-noout", "-serial"], { encoding: "utf8" })
        .trim()
        .replace(/^serial=/, "")
        .toLowerCase();
      const revoked = ["pi1", "bbb1"].includes(d.id);
      assert.equal(listed.includes(serial), revoked, `${d.id} (serial ${serial}) listed: ${listed.join(", ")}`);
      const verify = verifyAgainstCrl({ ca: caFile, crl: crlFile, cert: certFile });
      if (revoked) assert.match(verify.output, /certificate revoked/, d.id);
      else assert.equal(verify.status, 0, `${d.id}: ${verify.output}`);
    }
  });

  test("with nothing revoked, no CRL is pushed and mosquitto runs without crlfile", async () => {
    const { files } = await buildWithRevoked([]);
    assert.equal(files.has(M.crlfile), false);
    assert.ok(files.has(M.conf));
    assert.doesNotMatch(files.get(M.conf) ?? "", /crlfile/);
  });
});
