// The mosquitto.conf, ACL, certificates and CRL exactly as the push ships them for each fixture stack
// (paths moved into a temp dir, the listener onto 127.0.0.1 and a free port), run by real mosquitto.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import type { Pem } from "../../infra/render/x509";
import { topics } from "../../protocol";
import { FIXTURES, type RenderedFixture, fixtureFeatures, renderFixture } from "./daemons-fixtures";
import { connectOnce } from "../support/mqtt";
import { startMosquitto } from "../support/broker";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { type Daemon, giveToDaemon, shareWithDaemon } from "../support/daemon";

function connect(port: number, ca: string, id: string, pem?: Pem): Promise<MqttClient> {
  return connectOnce(port, { ca, cert: pem?.certPem, key: pem?.keyPem }, id);
}

for (const fixture of FIXTURES) {
  describe(`mosquitto with the shipped files of ${fixture.name}`, () => {
    const tmp = tempDir("mosq-stack", { daemonsMayEnter: true });
    const clients: MqttClient[] = [];
    let r: RenderedFixture;
    let broker: Daemon | undefined;
    let port = 0;
    const log = (): string => `\nbroker output:\n${broker?.output() ?? "(not started)"}`;

    before(async () => {
      r = await renderFixture(fixture);
      const etc = join(tmp.dir, "etc");
      const data = join(tmp.dir, "data");
      mkdirSync(join(etc, "certs"), { recursive: true, mode: 0o755 });
      mkdirSync(data);
      giveToDaemon(data, "mosquitto");
      for (const f of r.files.filter((x) => x.path.startsWith("/etc/mosquitto/"))) {
        const path = join(etc, f.path.slice("/etc/mosquitto/".length));
        writeFileSync(path, f.content);
        chmodSync(path, Number.parseInt(f.mode, 8));
        shareWithDaemon(path, "mosquitto", Number.parseInt(f.mode, 8));
      }
      port = await freePort();
      const shipped = r.content("/etc/mosquitto/mosquitto.conf");
      assert.match(shipped, /^listener 8883$/m);
      const local = shipped
        .replaceAll("/etc/mosquitto/", `${etc}/`)
        .replace("persistence_location /var/lib/mosquitto/", `persistence_location ${data}/`)
        .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`);
      const conf = join(tmp.dir, "mosquitto.conf");
      writeFileSync(conf, local);
      broker = await startMosquitto(conf);
    });

    after(async () => {
      for (const c of clients) c.end(true);
      await broker?.stop();
      tmp.cleanup();
    });

    test("accepts the web app's certificate and a device's, and carries a command between them", async () => {
      const webPem = { certPem: r.content("/etc/diy-web/web.pem"), keyPem: r.content("/etc/diy-web/web.key") };
      const web = await connect(port, r.ca.certPem, "web", webPem).catch((e: Error) =>
        assert.fail(`${e.message}${log()}`),
      );
      const device = await connect(port, r.ca.certPem, "pi1", await r.client("pi1")).catch((e: Error) =>
        assert.fail(`${e.message}${log()}`),
      );
      clients.push(web, device);
      // Every fixture lists pi1 with an output "led"; the ACL grants a device only its configured names,
      // so without it the command would never arrive: fail after a while instead of hanging the run.
      const got = new Promise<string>((resolve, reject) => {
        device.on("message", (t) => resolve(t));
        setTimeout(() => reject(new Error(`no command reached pi1${log()}`)), 20_000).unref();
      });
      await device.subscribeAsync(topics.set("pi1", "+"), { qos: 1 });
      await web.publishAsync(topics.set("pi1", "led"), '{"value":"on","req":"1"}', { qos: 1 });
      assert.equal(await got, topics.set("pi1", "led"));
    });

    test("refuses a client without a certificate", async () => {
      await assert.rejects(connect(port, r.ca.certPem, "anon"), /certificate required/);
    });

    // Only stacks that revoke a device or have a bridge get those tests: a skipped test would read as a gap.
    if (fixtureFeatures(fixture).revoked)
      test("refuses a revoked device while other devices connect", async () => {
        for (const [id, pem] of Object.entries(r.revoked)) {
          await assert.rejects(connect(port, r.ca.certPem, id, pem), (err: Error) => {
            assert.match(err.message, /certificate revoked/, `${id}: ${err.message}${log()}`);
            return true;
          });
        }
        const ok = await connect(port, r.ca.certPem, "pi2", await r.client("pi2"));
        clients.push(ok);
      });

    if (fixtureFeatures(fixture).bridges)
      test("lets each bridge publish for its own children only", async () => {
        const bridges = r.input.acl.users.filter((u) => u.username.endsWith(":bridge"));
        assert.ok(bridges.length > 0, "this stack lists a bridge, so the ACL must have its user");
        for (const b of bridges) {
          const client = await connect(port, r.ca.certPem, b.username, await r.client(b.username));
          clients.push(client);
          const child = /^[^/]+\/([^/]+)\//.exec(b.rules[0]?.topic ?? "")?.[1];
          assert.ok(child);
          await client.publishAsync(topics.status(child), "online", { qos: 1, retain: true });
          await assert.rejects(
            client.publishAsync(topics.status("pi1"), "online", { qos: 1 }),
            (err: Error & { code?: number }) => {
              assert.equal(err.code, 135, `${b.username} publishing for pi1: ${err.message}${log()}`);
              return true;
            },
          );
        }
      });
  });
}
