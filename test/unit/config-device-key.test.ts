// The device key is used by `pulumi up` itself (pulumi-command dials each board with it): nothing can type a
// passphrase there. Keys made by the real ssh-keygen: without a passphrase accepted; with one (OpenSSH format,
// traditional PEM, encrypted PKCS#8) refused at config time with the recipe for a dedicated key.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, privateKeyHasPassphrase } from "../../infra/config";
import { settingsFrom } from "../support/settings";

const KINDS = [
  ["ed25519, OpenSSH format, no passphrase", ["-t", "ed25519", "-N", ""], false],
  ["ed25519, OpenSSH format, passphrase", ["-t", "ed25519", "-N", "correct horse"], true],
  ["RSA, traditional PEM, passphrase", ["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "correct horse"], true],
  ["RSA, traditional PEM, no passphrase", ["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""], false],
  ["ECDSA, PKCS#8, passphrase", ["-t", "ecdsa", "-m", "PKCS8", "-N", "correct horse"], true],
] as const;

const withKey = (key: string) => ({
  adminCidrs: '["198.51.100.7/32"]',
  deviceSshPrivateKey: key,
  devices: JSON.stringify([{ id: "pi1", host: "192.0.2.21", board: "raspberrypi" }]),
});

for (const [what, args, encrypted] of KINDS) {
  test(`${what}: ${encrypted ? "refused, with the ssh-keygen -N '' recipe" : "accepted"}`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), "device-key-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync("ssh-keygen", [...args, "-q", "-C", "test", "-f", join(dir, "key")]);
    const key = readFileSync(join(dir, "key"), "utf8");
    assert.equal(privateKeyHasPassphrase(key), encrypted);
    const parse = () => settingsFrom(withKey(key));
    if (!encrypted) {
      assert.equal(parse().devices.length, 1);
      return;
    }
    assert.throws(parse, (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const p = e.problems.find((x) => x.key === "deviceSshPrivateKey");
      assert.ok(p, e.message);
      assert.match(p.problem, /protected by a passphrase/);
      assert.match(p.problem, /ssh-keygen -t ed25519 -N '' -f ~\/\.ssh\/diy-device/);
      assert.match(p.fix, /pulumi config set --secret diy-device-cloud:deviceSshPrivateKey/);
      return true;
    });
  });
}
