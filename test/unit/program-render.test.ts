// `npm run render` writes every artifact of a stack with placeholders for cloud values.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { parseWebConfig } from "../../apps/web/config";
import { PLACEHOLDER_IP, type RenderResult, renderStackToDir } from "../../scripts/render";

const root = path.resolve(__dirname, "../..");

describe("npm run render (the full example stack)", () => {
  let out: string;
  let result: RenderResult;
  before(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "diy-render-"));
    result = await renderStackToDir({ stack: "example-full", out, bundles: false });
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  const read = (rel: string) => fs.readFileSync(path.join(out, rel), "utf8");

  test("writes user data, every pushed server file, the push script and each device's files", () => {
    for (const rel of [
      "server/user-data.yaml",
      "server/push.sh",
      "server/files/etc/mosquitto/mosquitto.conf",
      "server/files/etc/mosquitto/acl",
      "server/files/etc/nginx/sites-available/diy",
      "server/files/etc/diy-web/config.json",
      // The history volume's mount unit and script, rendered for the placeholder volume id.
      "server/files/etc/systemd/system/var-lib-diy\\x2dweb.mount",
      "server/files/usr/local/sbin/diy-history-volume",
      "pki/ca.pem",
      "MANIFEST.txt",
    ])
      assert.ok(fs.existsSync(path.join(out, rel)), rel);
    for (const id of ["pi1", "bbb1", "bridge1"]) {
      for (const f of ["install.sh", "uninstall.sh", "files/config.json", "files/device.pem"]) {
        assert.ok(fs.existsSync(path.join(out, "devices", id, f)), `${id}/${f}`);
      }
    }
    assert.ok(fs.existsSync(path.join(out, "devices/bridge1/files/bridge.conf")));
  });

  test("lists every file in MANIFEST.txt and marks keys and the push script secret (mode 0600)", () => {
    const manifest = read("MANIFEST.txt");
    for (const f of result.files.filter((x) => x.path !== "MANIFEST.txt")) assert.ok(manifest.includes(f.path), f.path);
    for (const rel of [
      "server/push.sh",
      "server/files/etc/mosquitto/certs/server.key",
      "devices/pi1/files/device.key",
    ]) {
      assert.ok(result.files.find((f) => f.path === rel)?.secret, `${rel} not marked secret`);
      assert.equal(fs.statSync(path.join(out, rel)).mode & 0o777, 0o600, rel);
    }
  });

  test("user data holds no key or placeholder secret and fits EC2's 16 KB", () => {
    const ud = read("server/user-data.yaml");
    assert.doesNotMatch(ud, /PRIVATE KEY|PLACEHOLDER/);
    assert.ok(Buffer.byteLength(ud) <= 16 * 1024);
  });

  test("the web app's config.json passes the web app's own schema and lists the devices and bridge child", () => {
    const cfg = parseWebConfig(JSON.parse(read("server/files/etc/diy-web/config.json")));
    assert.deepEqual(cfg.devices.map((d) => d.id).sort(), ["arduino1", "bbb1", "pi1"]);
    assert.equal(cfg.publicOrigin, `https://${PLACEHOLDER_IP}`);
  });

  test("devices connect to the placeholder address on 8883", () => {
    const cfg = JSON.parse(read("devices/pi1/files/config.json")) as { broker: { url: string } };
    assert.equal(cfg.broker.url, `mqtts://${PLACEHOLDER_IP}:8883`);
  });

  test("the broker ACL names the bridge connection's identity as a user", () => {
    assert.match(read("server/files/etc/mosquitto/acl"), /^user bridge1:bridge$/m);
  });
});

test("npm run render refuses a stack file that does not exist, naming it", () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "scripts/render.ts", "--out", os.tmpdir(), "--stack", "nosuchstack"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Pulumi\.nosuchstack\.yaml/);
});
