// Each daemon's own checker on the rendered files, for every fixture stack: nginx -t, fail2ban-client -t,
// postfix check / postconf, cloud-init schema, shellcheck, systemd-analyze verify. On failure the
// assertion message is the tool's own output.
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { renderFail2banJail, WEB_LOGIN_FILTER_PATH, WEB_LOGIN_JAIL } from "../../infra/render/fail2ban";
import { FIXTURES, type RenderedFixture, fixtureFeatures, renderFixture } from "./daemons-fixtures";
import { fail2banTree, nginxTree, siteWithCertsIn } from "./daemons-support";
import { tempDir } from "../support/temp-dir";
import { run } from "../support/daemon";

for (const fixture of FIXTURES) {
  describe(`rendered ${fixture.name}`, () => {
    const tmp = tempDir("check");
    let r: RenderedFixture;
    before(async () => {
      r = await renderFixture(fixture);
    });
    after(() => tmp.cleanup());

    test("nginx -t accepts the site inside Debian's nginx.conf with the certificates in place", () => {
      const prefix = join(tmp.dir, "nginx");
      const site = siteWithCertsIn(
        prefix,
        r.content("/etc/nginx/sites-available/diy"),
        r.content("/etc/nginx/tls/server.pem"),
        r.content("/etc/nginx/tls/server.key"),
      );
      const conf = nginxTree(prefix, site);
      const res = run("nginx", ["-t", "-c", conf, "-p", `${prefix}/`, "-e", `${prefix}/logs/error.log`]);
      assert.equal(res.status, 0, `nginx -t:\n${res.output}`);
      assert.match(res.output, /test is successful/);
      assert.doesNotMatch(res.output, /\[warn\]/, `nginx warns:\n${res.output}`);
    });

    test("fail2ban-client -t accepts jail.local and -d shows the sshd and web login jails on the systemd backend", () => {
      const tree = fail2banTree(tmp.dir, r.content("/etc/fail2ban/jail.local"), {
        [WEB_LOGIN_JAIL]: r.content(WEB_LOGIN_FILTER_PATH),
      });
      const res = run("fail2ban-client", ["-c", tree, "-t"]);
      assert.equal(res.status, 0, `fail2ban-client -t:\n${res.output}`);
      const dump = run("fail2ban-client", ["-c", tree, "-d"]);
      assert.equal(dump.status, 0, dump.output);
      assert.match(dump.output, /\['add', 'sshd', 'systemd'\]/, `sshd jail backend:\n${dump.output.slice(0, 2000)}`);
      // The web login jail reads only the web app's unit from the journal.
      assert.match(dump.output, /\['add', 'diy-web-login', 'systemd'\]/);
      assert.match(dump.output, /\['set', 'diy-web-login', 'addjournalmatch', '_SYSTEMD_UNIT=diy-web\.service'\]/);
      assert.match(dump.output, /\['set', 'diy-web-login', 'addfailregex', '.*"event":"login_failed"/);
      if (r.input.fail2ban?.mail) {
        assert.match(dump.output, /sendmail/, "ban mails configured but no sendmail action in the dump");
      }
    });

    test("the user data's jail.local and web login filter are the pushed ones, so the first boot and later pushes agree", () => {
      const doc = parse(r.userData) as { write_files: { path: string; content: string }[] };
      for (const path of ["/etc/fail2ban/jail.local", WEB_LOGIN_FILTER_PATH]) {
        const early = doc.write_files.find((f) => f.path === path);
        assert.equal(early?.content, r.content(path), path);
      }
    });

    test("postfix check accepts main.cf beside Debian's master.cf, and postconf finds no unknown parameter", () => {
      const dir = join(tmp.dir, "postfix");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "main.cf"), r.content("/etc/postfix/main.cf"));
      cpSync("/etc/postfix/master.cf", join(dir, "master.cf"));
      const check = run("postfix", ["-c", dir, "check"]);
      assert.equal(check.status, 0, `postfix check:\n${check.output}`);
      assert.doesNotMatch(check.output, /warning|fatal/, `postfix check:\n${check.output}`);
      const conf = run("postconf", ["-c", dir, "-n"]);
      assert.equal(conf.status, 0, conf.output);
      assert.doesNotMatch(conf.output, /warning/, `postconf:\n${conf.output}`);
      assert.match(conf.output, /^inet_interfaces = loopback-only$/m);
    });

    if (fixtureFeatures(fixture).saslRelay)
      test("postmap builds the SASL map and finds the relay's credentials in it", () => {
        const sasl = r.files.find((f) => f.path === "/etc/postfix/sasl_passwd");
        assert.ok(sasl, "a relay with a login must ship /etc/postfix/sasl_passwd");
        const dir = join(tmp.dir, "postmap");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "main.cf"), r.content("/etc/postfix/main.cf"));
        writeFileSync(join(dir, "sasl_passwd"), sasl.content, { mode: 0o600 });
        const built = run("postmap", ["-c", dir, `hash:${dir}/sasl_passwd`]);
        assert.equal(built.status, 0, built.output);
        const relay = r.input.postfix.relay;
        assert.ok(relay);
        const q = run("postmap", ["-c", dir, "-q", `[${relay.host}]:${relay.port ?? 587}`, `hash:${dir}/sasl_passwd`]);
        assert.equal(q.output.trim(), `${relay.user}:${r.input.postfix.smtpPassword}`);
      });

    test("cloud-init schema accepts the user data", () => {
      const file = join(tmp.dir, "user-data.yaml");
      writeFileSync(file, r.userData);
      const res = run("cloud-init", ["schema", "--config-file", file]);
      assert.equal(res.status, 0, `cloud-init schema:\n${res.output}`);
      assert.match(res.output, /Valid cloud-config/);
    });

    test("shellcheck finds nothing in the push script", () => {
      const file = join(tmp.dir, "push.sh");
      writeFileSync(file, r.script);
      const res = run("shellcheck", ["--severity=style", file]);
      assert.equal(res.status, 0, `shellcheck:\n${res.output}`);
    });

    test("systemd-analyze verify accepts diy-web.service without a warning", () => {
      const dir = join(tmp.dir, "units");
      mkdirSync(dir, { recursive: true });
      let unit = r.content("/etc/systemd/system/diy-web.service");
      // The unit names /usr/bin/node (Debian's nodejs); where node lives elsewhere, point at this one.
      if (!existsSync("/usr/bin/node")) unit = unit.replace("/usr/bin/node", process.execPath);
      writeFileSync(join(dir, "diy-web.service"), unit);
      const res = run("systemd-analyze", ["verify", join(dir, "diy-web.service")]);
      assert.equal(res.status, 0, `systemd-analyze verify:\n${res.output}`);
      assert.equal(res.output.trim(), "", `systemd-analyze verify:\n${res.output}`);
    });
  });
}

describe("checks that catch what Debian 12 would", () => {
  const tmp = tempDir("check-neg");
  after(() => tmp.cleanup());

  test("fail2ban-client -t accepts the jail with the renderer's options no stack key sets (ssh port, bantime, maxretry, nginx limit_req)", () => {
    const jail = renderFail2banJail({ sshPort: 2222, bantime: "2h", maxretry: 3, nginxLimitReq: {} });
    const tree = fail2banTree(join(tmp.dir, "options"), jail);
    const check = run("fail2ban-client", ["-c", tree, "-t"]);
    assert.equal(check.status, 0, `fail2ban-client -t:\n${check.output}`);
    const res = run("fail2ban-client", ["-c", tree, "-d"]);
    assert.equal(res.status, 0, `fail2ban-client -d:\n${res.output}`);
    assert.match(res.output, /\['set', 'sshd', 'bantime', '2h'\]/);
    assert.match(res.output, /\['set', 'sshd', 'maxretry', 3\]/);
    assert.match(res.output, /\['port', '2222'\]/);
    assert.match(res.output, /\['add', 'nginx-limit-req', /);
  });

  test("fail2ban-client -t refuses the sshd jail on backend = auto (no auth.log), as a Debian 12 server does", async (t) => {
    if (existsSync("/var/log/auth.log")) {
      t.skip("this machine has /var/log/auth.log, so backend = auto would find it");
      return;
    }
    const fixture = FIXTURES[0];
    assert.ok(fixture);
    const r = await renderFixture(fixture);
    const jail = r.content("/etc/fail2ban/jail.local").replace("backend = systemd", "backend = auto");
    const res = run("fail2ban-client", ["-c", fail2banTree(tmp.dir, jail), "-t"]);
    assert.notEqual(res.status, 0);
    assert.match(res.output, /Have not found any log file for sshd jail/);
  });

  test("systemd-analyze verify reads the rendered mosquitto drop-in beside Debian's unit, and would flag a bad value", async () => {
    const fixture = FIXTURES[0];
    assert.ok(fixture);
    const r = await renderFixture(fixture);
    const dropIn =
      /path: \/etc\/systemd\/system\/mosquitto\.service\.d\/limits\.conf[\s\S]*?content: \|\n((?: {6}.*\n|\n)+)/.exec(
        r.userData,
      )?.[1];
    assert.ok(dropIn, "no mosquitto drop-in in the user data");
    const content = dropIn.replace(/^ {6}/gm, "");
    for (const [name, text] of [
      ["good", content],
      ["bad", content.replace(/LimitNOFILE=\d+/, "LimitNOFILE=lots")],
    ] as const) {
      const dir = join(tmp.dir, name);
      mkdirSync(join(dir, "mosquitto.service.d"), { recursive: true });
      cpSync("/lib/systemd/system/mosquitto.service", join(dir, "mosquitto.service"));
      writeFileSync(join(dir, "mosquitto.service.d", "limits.conf"), text);
      const res = run("systemd-analyze", ["verify", join(dir, "mosquitto.service")]);
      if (name === "good") assert.equal(res.output.trim(), "", `systemd-analyze verify:\n${res.output}`);
      else assert.match(res.output, /limits\.conf:\d+: Failed to parse resource value/, res.output);
    }
  });
});
