// `npm run render` writes every artifact of a stack with placeholders for cloud values.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { parseWebConfig } from "../../apps/web/config";
import { parseDeviceConfig } from "../../device/config";
import { iotCoreCaBundle } from "../../infra/amazon-root-ca";
import { LONGEST_IOT_ARN } from "../../infra/config/iot-core";
import { iotPolicyName } from "../../infra/iot-core";
import { iotIdentities, renderIotPolicies } from "../../infra/render/iot-policy";
import { stackAclModel } from "../../infra/stack-acl";
import {
  PLACEHOLDER_ACCOUNT_ID,
  PLACEHOLDER_IP,
  placeholderIotEndpoint,
  type RenderResult,
  renderStackToDir,
} from "../../scripts/render";

const root = path.resolve(__dirname, "../..");

/** Renders a stack of this repository into a temp dir before the suite's tests, and removes it after. */
function renderedStack(stack: string): {
  out: () => string;
  result: () => RenderResult;
  read: (rel: string) => string;
} {
  let out = "";
  let result: RenderResult | undefined;
  before(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), `diy-render-${stack}-`));
    result = await renderStackToDir({ stack, out, bundles: false });
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));
  return {
    out: () => out,
    result: () => {
      assert.ok(result, "rendered");
      return result;
    },
    read: (rel) => fs.readFileSync(path.join(out, rel), "utf8"),
  };
}

describe("npm run render (the full example stack)", () => {
  const rendered = renderedStack("example-full");
  const { read } = rendered;

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
      assert.ok(fs.existsSync(path.join(rendered.out(), rel)), rel);
    for (const id of ["pi1", "bbb1", "bridge1"]) {
      for (const f of ["install.sh", "uninstall.sh", "files/config.json", "files/device.pem"]) {
        assert.ok(fs.existsSync(path.join(rendered.out(), "devices", id, f)), `${id}/${f}`);
      }
    }
    assert.ok(fs.existsSync(path.join(rendered.out(), "devices/bridge1/files/bridge.conf")));
  });

  test("lists every file in MANIFEST.txt and marks keys and the push script secret (mode 0600)", () => {
    const manifest = read("MANIFEST.txt");
    for (const f of rendered.result().files.filter((x) => x.path !== "MANIFEST.txt"))
      assert.ok(manifest.includes(f.path), f.path);
    for (const rel of [
      "server/push.sh",
      "server/files/etc/mosquitto/certs/server.key",
      "devices/pi1/files/device.key",
    ]) {
      assert.ok(rendered.result().files.find((f) => f.path === rel)?.secret, `${rel} not marked secret`);
      assert.equal(fs.statSync(path.join(rendered.out(), rel)).mode & 0o777, 0o600, rel);
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

describe("npm run render (the iot-core example stack)", () => {
  const rendered = renderedStack("example-iot-core");
  const { read } = rendered;
  const prefix = "diy-device-cloud-example-iot-core";

  test("writes each identity's thing and its policies, as the ACL model gives them to IoT Core", () => {
    assert.equal(rendered.result().settings.broker, "iot-core");
    const things = read("iot/things.txt")
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    const expected = ["web", "pi1", "bbb1", "bridge1", "bridge1:bridge"];
    assert.deepEqual(things.map(([id]) => id).sort(), [...expected].sort());
    for (const [id, thing] of things) assert.equal(thing, `${prefix}:${id}`);
    const ids = iotIdentities(stackAclModel(rendered.result().settings), prefix);
    const ctx = { partition: "aws", region: "eu-central-1", accountId: PLACEHOLDER_ACCOUNT_ID };
    for (const id of ids) {
      const docs = renderIotPolicies(ctx, id, { packAs: LONGEST_IOT_ARN });
      docs.forEach((doc, i) => {
        const file = `iot/policies/${iotPolicyName(id.thingName, i)}.json`;
        assert.deepEqual(JSON.parse(read(file)), doc, file);
      });
    }
    // The bridge connection's policy names its child's topics and nothing of the other boards.
    const bridge = read(`iot/policies/${prefix}.bridge1.bridge.0.json`);
    assert.match(bridge, /topic\/devices\/arduino1\/out\/relay\/state/);
    assert.doesNotMatch(bridge, /pi1|bbb1/);
  });

  test("each board's config passes the device schema and names the endpoint, Amazon's roots and its thing", () => {
    for (const id of ["pi1", "bbb1", "bridge1"]) {
      const cfg = parseDeviceConfig(JSON.parse(read(`devices/${id}/files/config.json`)), id);
      assert.equal(cfg.broker.url, `mqtts://${placeholderIotEndpoint("eu-central-1")}:8883`);
      assert.equal(cfg.broker.clientId, `${prefix}:${id}`);
      assert.equal(read(`devices/${id}/files/ca.pem`), iotCoreCaBundle());
    }
    assert.match(
      read("devices/bridge1/files/bridge.conf"),
      new RegExp(`^remote_clientid ${prefix}:bridge1:bridge$`, "m"),
    );
  });

  test("the server runs no mosquitto; the web app's config passes its schema with broker iot-core", () => {
    assert.ok(!fs.existsSync(path.join(rendered.out(), "server/files/etc/mosquitto")));
    assert.doesNotMatch(read("server/user-data.yaml"), /mosquitto/);
    const cfg = parseWebConfig(JSON.parse(read("server/files/etc/diy-web/config.json")));
    assert.equal(cfg.broker.kind, "iot-core");
    assert.deepEqual(cfg.broker.iot, { thingPrefix: prefix, region: "eu-central-1" });
    assert.equal(read("server/files/etc/diy-web/ca.pem"), iotCoreCaBundle());
    // nginx keeps the stack CA's server certificate, which the browser is told to trust.
    assert.ok(fs.existsSync(path.join(rendered.out(), "pki/ca.pem")));
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
