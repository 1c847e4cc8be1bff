// `npm run render` output (scripts/render.ts renderStackToDir, through infra/render-stack.ts renderStack: the same
// Settings -> renderer path as the Pulumi program) checked by the daemons, for the repo's dev stack and two more stack files written here.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { renderStackToDir } from "../../scripts/render";
import { fail2banTree, nginxTree, siteWithCertsIn } from "./daemons-support";
import { connectOnce } from "../support/mqtt";
import { startMosquitto } from "../support/broker";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { type Daemon, giveToDaemon, run, shareWithDaemon } from "../support/daemon";

const REPO = join(__dirname, "..", "..");

/** Stack files beside the repo's dev stack: mail relay without login + revocation + bridge; Ubuntu, no devices, no mail. */
const EXTRA_STACKS: Record<string, string> = {
  fleet: `config:
  diy-device-cloud:adminCidrs: ["203.0.113.0/24", "198.51.100.9/32"]
  diy-device-cloud:alertEmail: ops@example.org
  diy-device-cloud:smtpHost: relay.example.org
  diy-device-cloud:smtpPort: 25
  diy-device-cloud:smtpFrom: iot@example.org
  diy-device-cloud:revokedDevices: [pi2]
  diy-device-cloud:devices:
    - { id: pi1, host: 192.0.2.41, board: raspberrypi, outputs: [{ name: led, backend: { type: led, led: led0 } }], inputs: [] }
    - { id: pi2, host: 192.0.2.42, board: raspberrypi, outputs: [{ name: led, backend: { type: led, led: led0 } }], inputs: [] }
    - id: gw1
      host: 192.0.2.50
      board: generic
      outputs: []
      inputs: []
      bridge: { lanAddress: 192.0.2.50, children: [{ id: ard1, outputs: [relay], inputs: [] }] }
`,
  bare: `config:
  diy-device-cloud:os: ubuntu2404
  diy-device-cloud:adminCidrs: ["192.0.2.0/24"]
`,
};

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

for (const stack of ["dev", "example-full", ...Object.keys(EXTRA_STACKS)]) {
  describe(`npm run render --stack ${stack}, checked by the daemons`, () => {
    const tmp = tempDir(`render-${stack}`);
    const out = join(tmp.dir, "out");
    const server = (p: string): string => readFileSync(join(out, "server", "files", p), "utf8");
    let broker: Daemon | undefined;

    before(async () => {
      let projectDir = REPO;
      const extra = EXTRA_STACKS[stack];
      if (extra !== undefined) {
        projectDir = join(tmp.dir, "project");
        mkdirSync(projectDir);
        writeFileSync(join(projectDir, `Pulumi.${stack}.yaml`), extra);
      }
      await renderStackToDir({ stack, out, projectDir, bundles: false });
    });

    after(async () => {
      await broker?.stop();
      tmp.cleanup();
    });

    test("nginx -t accepts the rendered site", () => {
      const prefix = join(tmp.dir, "nginx");
      const site = siteWithCertsIn(
        prefix,
        server("etc/nginx/sites-available/diy"),
        server("etc/nginx/tls/server.pem"),
        server("etc/nginx/tls/server.key"),
      );
      const res = run("nginx", [
        "-t",
        "-c",
        nginxTree(prefix, site),
        "-p",
        `${prefix}/`,
        "-e",
        `${prefix}/logs/error.log`,
      ]);
      assert.equal(res.status, 0, `nginx -t:\n${res.output}`);
    });

    test("fail2ban-client -t accepts the rendered jail.local", () => {
      const res = run("fail2ban-client", ["-c", fail2banTree(tmp.dir, server("etc/fail2ban/jail.local")), "-t"]);
      assert.equal(res.status, 0, `fail2ban-client -t:\n${res.output}`);
    });

    test("postfix check accepts the rendered main.cf without warnings", () => {
      const dir = join(tmp.dir, "postfix");
      mkdirSync(dir);
      writeFileSync(join(dir, "main.cf"), server("etc/postfix/main.cf"));
      writeFileSync(join(dir, "master.cf"), readFileSync("/etc/postfix/master.cf"));
      const res = run("postfix", ["-c", dir, "check"]);
      assert.equal(res.status, 0, `postfix check:\n${res.output}`);
      assert.doesNotMatch(res.output, /warning/, `postfix check:\n${res.output}`);
    });

    test("cloud-init schema accepts the rendered user data", () => {
      const res = run("cloud-init", ["schema", "--config-file", join(out, "server", "user-data.yaml")]);
      assert.equal(res.status, 0, `cloud-init schema:\n${res.output}`);
    });

    test("shellcheck finds nothing in any rendered script", () => {
      const scripts = walk(out).filter((f) => f.endsWith(".sh"));
      assert.ok(scripts.some((f) => f.endsWith("server/push.sh")));
      const res = run("shellcheck", ["--severity=style", ...scripts]);
      assert.equal(res.status, 0, `shellcheck ${scripts.map((f) => relative(out, f)).join(" ")}:\n${res.output}`);
    });

    test("systemd-analyze verify accepts every rendered unit", () => {
      const units = walk(out).filter((f) => /\.(service|socket|timer|path)$/.test(f));
      assert.ok(units.length > 0);
      for (const unit of units) {
        const dir = join(tmp.dir, "units", relative(out, unit).replaceAll("/", "_"));
        mkdirSync(dir, { recursive: true });
        const name = unit.split("/").pop() as string;
        let text = readFileSync(unit, "utf8");
        if (!existsSync("/usr/bin/node")) text = text.replaceAll("/usr/bin/node", process.execPath);
        // Programs the push itself installs (e.g. /usr/local/sbin/diy-cert-check): point at the rendered copy.
        text = text.replace(/(?<==)(\/[^\s]+)/g, (p) => {
          const rendered = join(out, "server", "files", p);
          if (!existsSync(rendered)) return p;
          chmodSync(rendered, 0o755);
          return rendered;
        });
        writeFileSync(join(dir, name), text);
        const res = run("systemd-analyze", ["verify", join(dir, name)]);
        assert.equal(res.status, 0, `${relative(out, unit)}:\n${res.output}`);
        assert.equal(res.output.trim(), "", `${relative(out, unit)}:\n${res.output}`);
      }
    });

    test("mosquitto runs the rendered broker files and accepts the web app's certificate", async () => {
      chmodSync(tmp.dir, 0o755);
      const etc = join(tmp.dir, "mosquitto");
      const data = join(tmp.dir, "mosquitto-data");
      mkdirSync(join(etc, "certs"), { recursive: true });
      mkdirSync(data);
      giveToDaemon(data, "mosquitto");
      for (const f of walk(join(out, "server", "files", "etc", "mosquitto"))) {
        const dest = join(etc, relative(join(out, "server", "files", "etc", "mosquitto"), f));
        writeFileSync(dest, readFileSync(f));
        shareWithDaemon(dest, "mosquitto", 0o640);
      }
      const port = await freePort();
      const conf = join(tmp.dir, "mosquitto.conf");
      writeFileSync(
        conf,
        server("etc/mosquitto/mosquitto.conf")
          .replaceAll("/etc/mosquitto/", `${etc}/`)
          .replace("persistence_location /var/lib/mosquitto/", `persistence_location ${data}/`)
          .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`),
      );
      broker = await startMosquitto(conf);
      const client = await connectOnce(
        port,
        {
          servername: "localhost",
          ca: server("etc/diy-web/ca.pem"),
          cert: server("etc/diy-web/web.pem"),
          key: server("etc/diy-web/web.key"),
        },
        "web",
      );
      await client.endAsync();
    });
  });
}
