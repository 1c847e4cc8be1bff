// The SSH push script run for real by bash against a scratch root (DIY_PUSH_ROOT), with systemctl,
// nginx, postfix, postmap, useradd and chown replaced by recorders on PATH: proves it writes every
// file with its mode, restarts only what changed, is idempotent, and never prints a secret.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { renderServerPush } from "../../infra/render/server-files";
import { FIXTURES, fixtureInput } from "./daemons-fixtures";
import { tempDir } from "../support/temp-dir";

const PEM = (label: string, body: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(body).toString("base64")}\n-----END ${label}-----\n`;
const pki = {
  caCertPem: PEM("CERTIFICATE", "ca"),
  serverCertPem: PEM("CERTIFICATE", "server"),
  serverKeyPem: PEM("PRIVATE KEY", "server-key-SECRET"),
  webCertPem: PEM("CERTIFICATE", "web"),
  webKeyPem: PEM("PRIVATE KEY", "web-key-SECRET"),
  crlPem: PEM("X509 CRL", "crl"),
};

const FAKES = ["systemctl", "nginx", "postfix", "useradd", "chown", "journalctl", "cloud-init"];

function sandbox(dir: string): { root: string; bin: string; calls: () => string[]; reset: () => void } {
  const root = join(dir, "root");
  const bin = join(dir, "bin");
  const log = join(dir, "calls.log");
  mkdirSync(root);
  mkdirSync(bin);
  for (const name of FAKES) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  // postmap writes the .db beside its source, as the real one does.
  writeFileSync(join(bin, "postmap"), `#!/bin/sh\necho "postmap $*" >> "${log}"\nf="\${1#hash:}"\ncp "$f" "$f.db"\n`);
  chmodSync(join(bin, "postmap"), 0o755);
  writeFileSync(log, "");
  return {
    root,
    bin,
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l !== ""),
    reset: () => writeFileSync(log, ""),
  };
}

/**
 * Runs the push as PUSH_COMMAND does (`bash -s -- "$HOME"`), after copying the staged files (the web bundle) to
 * that home as remote.CopyToRemote would.
 */
function push(
  script: string,
  sb: { root: string; bin: string },
  staged: Record<string, string> = stagedFiles,
): { status: number | null; output: string } {
  const home = join(sb.root, "..", "home");
  for (const [rel, content] of Object.entries(staged)) {
    mkdirSync(dirname(join(home, rel)), { recursive: true });
    writeFileSync(join(home, rel), content);
  }
  const r = spawnSync("bash", ["-s", "--", home], {
    input: script,
    encoding: "utf8",
    env: { ...process.env, DIY_PUSH_ROOT: sb.root, PATH: `${sb.bin}:${process.env.PATH}` },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

let stagedFiles: Record<string, string> = {};

describe("the push script, run by bash against a scratch root", () => {
  const tmp = tempDir("push");
  after(() => tmp.cleanup());
  const fixture = FIXTURES[1];
  assert.ok(fixture);
  const input = fixtureInput(fixture, pki);
  const { files, script, staged } = renderServerPush(input);
  stagedFiles = staged;
  const sb = sandbox(tmp.dir);
  let first = { status: null as number | null, output: "" };

  test("is clean under shellcheck", () => {
    const file = join(tmp.dir, "push.sh");
    writeFileSync(file, script);
    const r = spawnSync("shellcheck", ["-s", "bash", file], { encoding: "utf8" });
    assert.equal(r.status, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
  });

  test("writes every file with its content and mode on the first run", () => {
    first = push(script, sb);
    assert.equal(first.status, 0, first.output);
    for (const f of files) {
      const path = join(sb.root, f.path);
      assert.equal(readFileSync(path, "utf8"), f.content, f.path);
      assert.equal((statSync(path).mode & 0o777).toString(8).padStart(4, "0"), f.mode, `${f.path} mode`);
    }
    assert.equal(readlinkSync(join(sb.root, "etc/nginx/sites-enabled/diy")), "/etc/nginx/sites-available/diy");
  });

  test("validates, then restarts every service and postmaps the SMTP credentials on the first run", () => {
    const calls = sb.calls();
    for (const c of [
      "nginx -t -q",
      "postfix check",
      "systemctl daemon-reload",
      "systemctl restart mosquitto.service",
      "systemctl reload-or-restart nginx.service",
      "systemctl restart postfix.service",
      "systemctl reload-or-restart fail2ban.service",
      "systemctl restart diy-web.service",
      "systemctl enable --quiet diy-web.service",
    ]) {
      assert.ok(calls.includes(c), `missing "${c}" in:\n${calls.join("\n")}`);
    }
    assert.ok(calls.some((c) => c.startsWith("postmap hash:") && c.endsWith("/etc/postfix/sasl_passwd")));
    assert.equal((statSync(join(sb.root, "etc/postfix/sasl_passwd.db")).mode & 0o777).toString(8), "600");
    assert.ok(
      calls.indexOf("nginx -t -q") < calls.indexOf("systemctl reload-or-restart nginx.service"),
      "reload before validation",
    );
  });

  test("never prints a secret", () => {
    for (const secret of ["server-key-SECRET", "web-key-SECRET", "Sm7p-Secret-Value", "Prod-Password-2"]) {
      assert.ok(!first.output.includes(secret), `output shows ${secret}`);
      assert.ok(!sb.calls().join("\n").includes(secret), `a command line carries ${secret}`);
    }
    for (const f of files.filter((x) => x.secret))
      assert.ok(!script.includes(f.content), `${f.path} appears in clear in the script`);
  });

  test("keeps the web bundle out of the script: it installs the staged copy, and refuses one it did not build", () => {
    const web = files.find((f) => f.path === "/opt/diy-web/web.js");
    assert.ok(web?.staged, "the web bundle is staged");
    assert.ok(
      !script.includes(Buffer.from(web.content).toString("base64").slice(0, 60)),
      "the bundle is in the script",
    );
    assert.deepEqual(Object.keys(staged), [".diy-device-cloud/web.js"]);
    const dir = join(tmp.dir, "tampered");
    mkdirSync(dir);
    const sb3 = sandbox(dir);
    const r = push(script, sb3, { ".diy-device-cloud/web.js": "console.log('not ours');\n" });
    assert.notEqual(r.status, 0);
    assert.match(r.output, /web\.js is not the file this stack built for \/opt\/diy-web\/web\.js/);
    assert.ok(!existsSync(join(sb3.root, "opt/diy-web/web.js")), "the foreign file was installed");
  });

  test("changes nothing and restarts nothing when run again with the same files", () => {
    sb.reset();
    const again = push(script, sb);
    assert.equal(again.status, 0, again.output);
    const calls = sb.calls();
    assert.deepEqual(
      calls.filter((c) => / (restart|reload-or-restart|daemon-reload)\b/.test(c) || c.startsWith("postmap")),
      [],
      calls.join("\n"),
    );
    assert.doesNotMatch(again.output, /updated /);
  });

  test("restarts only mosquitto when only the ACL changed", () => {
    sb.reset();
    const changed = renderServerPush({
      ...input,
      acl: { ...input.acl, users: [...input.acl.users, { username: "gw9", rules: [] }] },
    });
    const r = push(changed.script, sb);
    assert.equal(r.status, 0, r.output);
    const restarts = sb.calls().filter((c) => / (restart|reload-or-restart)\b/.test(c));
    assert.deepEqual(restarts, ["systemctl restart mosquitto.service"]);
    assert.match(r.output, /updated \/etc\/mosquitto\/acl/);
  });

  test("stops without touching services when nginx rejects the configuration", () => {
    sb.reset();
    writeFileSync(join(sb.bin, "nginx"), '#!/bin/sh\necho "nginx: [emerg] unknown directive" >&2\nexit 1\n');
    const changed = renderServerPush({ ...input, nginx: { serverName: "other.example.com" } });
    const r = push(changed.script, sb);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /nginx rejects the configuration/);
    assert.match(r.output, /unknown directive/);
    assert.deepEqual(
      sb.calls().filter((c) => / (restart|reload-or-restart)\b/.test(c)),
      [],
    );
  });

  test("waits for cloud-init's boot-finished before writing anything", () => {
    const dir = join(tmp.dir, "wait");
    mkdirSync(dir);
    const sb2 = sandbox(dir);
    mkdirSync(join(sb2.root, "var/lib/cloud/instance"), { recursive: true });
    const quick = renderServerPush({ ...input, cloudInitTimeoutSeconds: 0 });
    const r = push(quick.script, sb2);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /cloud-init has not finished/);
    assert.ok(!existsSync(join(sb2.root, "etc/mosquitto")), "wrote files before cloud-init finished");
    writeFileSync(join(sb2.root, "var/lib/cloud/instance/boot-finished"), "");
    const ok = push(quick.script, sb2);
    assert.equal(ok.status, 0, ok.output);
    assert.ok(sb2.calls().includes("cloud-init status --long"));
  });

  test("with a history volume: writes the mount unit under its escaped name, restarts diy-web, runs the grow step", () => {
    const dir = join(tmp.dir, "history");
    mkdirSync(dir);
    const sb3 = sandbox(dir);
    const withVolume = renderServerPush({
      ...input,
      historyVolume: { volumeId: "vol-0123456789abcdef0", instanceType: "t3.micro", sizeGiB: 2 },
    });
    const r = push(withVolume.script, sb3);
    assert.equal(r.status, 0, r.output);
    // The backslash is part of the name systemd looks for (var-lib-diy\x2dweb.mount), so bash must keep it.
    const unit = withVolume.files.find((f) => f.path.endsWith(".mount"));
    assert.equal(unit?.path, "/etc/systemd/system/var-lib-diy\\x2dweb.mount");
    assert.equal(readFileSync(join(sb3.root, unit.path), "utf8"), unit.content);
    assert.equal((statSync(join(sb3.root, "usr/local/sbin/diy-history-volume")).mode & 0o777).toString(8), "755");
    assert.ok(sb3.calls().includes("systemctl restart diy-web.service"), sb3.calls().join("\n"));
    // The grow step names the real path on the server, absent here: the push logs it and carries on.
    assert.match(r.output, /step failed \(continuing\): \/usr\/local\/sbin\/diy-history-volume grow /);
  });

  test("switched to iot-core: deletes what the mosquitto push installed, stops mosquitto for good, restarts nothing of it", () => {
    const dir = join(tmp.dir, "switch");
    mkdirSync(dir);
    const sb4 = sandbox(dir);
    assert.equal(push(script, sb4).status, 0);
    assert.ok(existsSync(join(sb4.root, "etc/mosquitto/certs/server.key")));
    sb4.reset();
    const { crlPem: _crl, ...iotPki } = input.pki;
    const iot = renderServerPush({ ...input, broker: "iot-core", pki: iotPki });
    const shellchecked = join(dir, "push.sh");
    writeFileSync(shellchecked, iot.script);
    const lint = spawnSync("shellcheck", ["-s", "bash", shellchecked], { encoding: "utf8" });
    assert.equal(lint.status, 0, `shellcheck:\n${lint.stdout}${lint.stderr}`);
    const r = push(iot.script, sb4);
    assert.equal(r.status, 0, r.output);
    for (const f of ["mosquitto.conf", "acl", "certs/ca.pem", "certs/server.pem", "certs/server.key", "certs/crl.pem"])
      assert.ok(!existsSync(join(sb4.root, "etc/mosquitto", f)), `/etc/mosquitto/${f} is still there`);
    const calls = sb4.calls();
    assert.ok(calls.includes("systemctl disable --now --quiet mosquitto.service"), calls.join("\n"));
    assert.ok(!calls.some((c) => /(restart|start) mosquitto/.test(c)), calls.join("\n"));
    // The same push again finds nothing left to delete.
    assert.equal(push(iot.script, sb4).status, 0);
    assert.doesNotMatch(push(iot.script, sb4).output, /removed \/etc\/mosquitto/);
  });

  test("the mosquitto push stops before writing anything on a server without mosquitto (created with iot-core)", () => {
    const dir = join(tmp.dir, "no-mosquitto");
    mkdirSync(dir);
    const sb5 = sandbox(dir);
    // The server's PATH without /usr/sbin, where Debian's mosquitto binary is.
    const r = spawnSync("bash", ["-s", "--", join(sb5.root, "..", "home")], {
      input: script,
      encoding: "utf8",
      env: { ...process.env, DIY_PUSH_ROOT: sb5.root, PATH: `${sb5.bin}:/usr/bin:/bin` },
    });
    assert.notEqual(r.status, 0);
    assert.match(`${r.stdout}${r.stderr}`, /mosquitto is not installed: this server was created with broker iot-core/);
    assert.ok(!existsSync(join(sb5.root, "etc")), "wrote files first");
  });
});
