// VM tier: a Debian 12 VM under QEMU boots user data through NoCloud, like the EC2 instance does.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureBaseImage } from "./lib/image";
import { log } from "./lib/proc";
import { generateKey, tryLogin } from "./lib/ssh";
import { Vm } from "./lib/vm";

const work = mkdtempSync(join(tmpdir(), "diy-vm-"));
let server: Vm;
let adminKey: { path: string; publicKey: string };
let failed = false;

// Until the rendered user data lands: the hardening the design asks of it, written by hand.
const userData = `#cloud-config
hostname: diy-server
manage_etc_hosts: true
ssh_pwauth: false
disable_root: true
write_files:
  - path: /etc/ssh/sshd_config.d/50-diy.conf
    content: |
      PasswordAuthentication no
      KbdInteractiveAuthentication no
      PermitRootLogin no
runcmd:
  - [systemctl, reload, ssh]
`;

describe("server VM", { timeout: 25 * 60_000 }, () => {
  before(async () => {
    const image = await ensureBaseImage();
    adminKey = await generateKey(work, "admin_ed25519");
    server = new Vm({
      name: "server",
      image,
      dir: join(work, "server"),
      userData,
      publicKeys: [adminKey.publicKey],
      hostname: "diy-server",
      sshKey: adminKey.path,
      sshUser: "admin",
    });
    await server.start();
    try {
      const sshMs = await server.waitForSsh();
      log("server", `boot to SSH ${(sshMs / 1000).toFixed(0)} s`);
      const ci = await server.waitForCloudInit();
      log("server", `cloud-init done ${(ci.ms / 1000).toFixed(0)} s later: ${ci.status.stdout.trim().split("\n")[0]}`);
    } catch (err) {
      failed = true;
      process.stderr.write(`${await server.diagnostics()}\n`);
      throw err;
    }
  });

  after(async () => {
    if (server) {
      if (failed) process.stderr.write(`${await server.diagnostics()}\n`);
      await server.stop();
    }
    if (!failed) rmSync(work, { recursive: true, force: true });
    else log("server", `kept ${work} for inspection`);
  });

  it("runs cloud-init to completion without errors", async () => {
    const r = await server.ssh.exec("cloud-init status --long");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /status: done/);
  });

  it("lets the admin user in with the key pair and gives it passwordless sudo", async () => {
    const who = await server.ssh.check("id -un; sudo -n id -un; hostname");
    assert.deepEqual(who.trim().split("\n"), ["admin", "root", "diy-server"]);
  });

  it("refuses SSH password login: the server offers public keys only", async () => {
    const r = await tryLogin({ port: server.port(22), user: "admin", method: "password" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  it("refuses root login even with the admin key", async () => {
    const r = await tryLogin({ port: server.port(22), user: "root", method: "publickey", key: adminKey.path });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
    const eff = await server.ssh.check("sudo sshd -T | grep -Ei '^(permitrootlogin|passwordauthentication) '");
    assert.match(eff, /^permitrootlogin no$/m);
    assert.match(eff, /^passwordauthentication no$/m);
  });
});
