// VM tier: the deployment, proven on two Debian 12 VMs under QEMU. The server VM boots the rendered
// EC2 user data through NoCloud and receives the same SSH push the Pulumi program runs; the device VM
// (a generic board with a simulated LED) is provisioned by the same install script. Then a click on
// the web API travels nginx -> web app -> mosquitto -> device VM and the device's state comes back.
// Each VM boots once; the checks below reuse it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { topics } from "../../protocol";
import { ensureBaseImage } from "./lib/image";
import { mqttConnect, request, waitForEvent } from "./lib/net";
import { makePki, type VmPki } from "./lib/pki";
import { log, type RunResult, sleep, waitFor } from "./lib/proc";
import { generateKey, tryLogin } from "./lib/ssh";
import { copyToRemote, DEVICE, devicePlan, PUSH_COMMAND, STACK, serverPush, serverUserData } from "./lib/stack";
import { Vm } from "./lib/vm";

const work = mkdtempSync(join(tmpdir(), "diy-vm-"));
let server: Vm;
let device: Vm;
let pki: VmPki;
let adminKey: { path: string; publicKey: string };
let deviceKey: { path: string; publicKey: string };
let failed = false;
let serverDown: Error | undefined;
let deviceDown: Error | undefined;
const timings: Record<string, number> = {};

let pushScript = "";
let push: RunResult | undefined;
let deviceSetup: ReturnType<typeof devicePlan> | undefined;
let install: RunResult | undefined;

// The device VM stands in for a Raspberry Pi OS board: user `pi` reachable with the device SSH key.
function deviceUserData(publicKey: string): string {
  return `#cloud-config
hostname: ${DEVICE.id}
manage_etc_hosts: true
ssh_pwauth: false
users:
  - name: ${DEVICE.user}
    shell: /bin/bash
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    lock_passwd: true
    ssh_authorized_keys: [${JSON.stringify(publicKey)}]
`;
}

const secs = (ms: number) => Math.round(ms / 1000);

async function boot(vm: Vm): Promise<void> {
  await vm.start();
  let sshMs: number;
  try {
    sshMs = await vm.waitForSsh();
  } catch (err) {
    // A guest kernel that dies early under a heavily loaded host gets one more try, from a fresh overlay.
    if (!vm.crashed) throw err;
    log(vm.name, `crashed before SSH (${(err as Error).message.split("\n")[0]}); booting it once more`);
    await vm.start();
    sshMs = await vm.waitForSsh();
  }
  timings[`${vm.name} boot to SSH`] = secs(sshMs);
  log(vm.name, `boot to SSH ${secs(sshMs)} s`);
  const ci = await vm.waitForCloudInit();
  timings[`${vm.name} cloud-init after SSH`] = secs(ci.ms);
  log(vm.name, `cloud-init done ${secs(ci.ms)} s later: ${ci.status.stdout.trim().split("\n")[0]}`);
}

/** Server: boot, then the push exactly as infra/server.ts runs it: `sudo bash -s` with the script on stdin. */
async function serverChain(): Promise<void> {
  await boot(server);
  const rendered = await serverPush(pki, `https://127.0.0.1:${server.port(443)}`);
  pushScript = rendered.script;
  const t = Date.now();
  await copyToRemote(server.ssh, rendered.staged);
  log("server", `push: ${PUSH_COMMAND} < rendered push script`);
  push = await server.ssh.exec(PUSH_COMMAND, { input: pushScript, timeoutMs: 10 * 60_000 });
  timings["server push"] = secs(Date.now() - t);
  log("server", `push exit ${push.code} after ${secs(Date.now() - t)} s`);
}

/** Device: boot, then the install command infra/devices.ts runs, payload (with the key) on stdin. */
async function deviceChain(): Promise<void> {
  await boot(device);
  const identity = pki.devices.get(DEVICE.id);
  if (!identity) throw new Error("no device identity");
  // The board dials the server's public address: from inside QEMU that is the gateway to the host.
  deviceSetup = devicePlan(pki.ca.certPem, identity, { host: "10.0.2.2", port: server.port(8883) });
  const t = Date.now();
  await copyToRemote(device.ssh, deviceSetup.staged);
  log("device", "install: rendered install command, payload on stdin");
  install = await device.ssh.exec(deviceSetup.plan.installCommand, {
    input: deviceSetup.payload,
    timeoutMs: 10 * 60_000,
  });
  timings["device install"] = secs(Date.now() - t);
  log("device", `install exit ${install.code} after ${secs(Date.now() - t)} s`);
}

const https = () => ({ ca: pki.ca.certPem });

function describeRun(r: RunResult | undefined): string {
  return r
    ? `exit ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-4000)}`
    : "did not run";
}

describe("two-VM deployment: server from rendered user data + SSH push, device from the install script", {
  timeout: 80 * 60_000,
}, () => {
  before(async () => {
    const t0 = Date.now();
    const image = await ensureBaseImage();
    timings["base image (build or cache)"] = secs(Date.now() - t0);
    adminKey = await generateKey(work, "admin_ed25519");
    deviceKey = await generateKey(work, "device_ed25519");
    pki = await makePki([DEVICE.id]);
    server = new Vm({
      name: "server",
      image,
      dir: join(work, "server"),
      userData: serverUserData(),
      publicKeys: [adminKey.publicKey],
      hostname: "diy-cloud",
      forward: [80, 443, 8883],
      sshKey: adminKey.path,
      sshUser: "admin",
    });
    device = new Vm({
      name: "device",
      image,
      dir: join(work, "device"),
      userData: deviceUserData(deviceKey.publicKey),
      publicKeys: [],
      hostname: DEVICE.id,
      sshKey: deviceKey.path,
      sshUser: DEVICE.user,
    });
    // Both at once: under TCG most of the wait is each guest's own work (cloud-init's apt, the install's apt).
    // The device service starts before the broker is up and keeps reconnecting until it is.
    // A failed chain fails only the checks that need it (each asserts its VM is up).
    const [s, d] = await Promise.allSettled([serverChain(), deviceChain()]);
    if (s.status === "rejected") serverDown = s.reason as Error;
    if (d.status === "rejected") deviceDown = d.reason as Error;
    if (serverDown || deviceDown) failed = true;
    timings["setup total"] = secs(Date.now() - t0);
    log("vm", `setup done: ${JSON.stringify(timings)}`);
  });

  after(async () => {
    for (const vm of [server, device]) {
      if (!vm) continue;
      if (failed) process.stderr.write(`${await vm.diagnostics()}\n`);
      await vm.stop();
    }
    log("vm", `timings (s): ${JSON.stringify(timings)}`);
    if (!failed) rmSync(work, { recursive: true, force: true });
    else log("vm", `kept ${work} for inspection`);
  });

  const check = (name: string, fn: () => Promise<void>, needs: readonly ("server" | "device")[] = ["server"]) =>
    it(name, async () => {
      try {
        if (needs.includes("server") && serverDown) throw new Error(`server VM not ready: ${serverDown.message}`);
        if (needs.includes("device") && deviceDown) throw new Error(`device VM not ready: ${deviceDown.message}`);
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    });

  check("runs cloud-init to completion on both VMs, with user data that passes cloud-init's own schema check", async () => {
    for (const vm of [server, device]) {
      const r = await vm.ssh.exec("cloud-init status --long");
      assert.equal(r.code, 0, `${vm.name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /status: done/, vm.name);
      const warnings = await vm.ssh.check(
        "sudo grep -E 'Invalid cloud-config|WARNING|Traceback' /var/log/cloud-init.log || true",
      );
      assert.equal(warnings.trim(), "", `${vm.name}: cloud-init warned:\n${warnings}`);
    }
    const pkgs = await server.ssh.check(
      "dpkg-query -W -f='${Package} ${Status}\\n' mosquitto nginx fail2ban postfix nodejs unattended-upgrades",
    );
    for (const p of ["mosquitto", "nginx", "fail2ban", "postfix", "nodejs", "unattended-upgrades"]) {
      assert.match(pkgs, new RegExp(`^${p} install ok installed$`, "m"), pkgs);
    }
  }, ["server", "device"]);

  check("applies the rendered push over SSH without printing a secret, and a second push changes nothing", async () => {
    assert.equal(push?.code, 0, `push failed: ${describeRun(push)}`);
    const out = `${push?.stdout}${push?.stderr}`;
    assert.match(out, /diy-push: done/);
    for (const secret of [STACK.webPassword, STACK.sessionSecret, STACK.smtp.password, "PRIVATE KEY"]) {
      assert.ok(!out.includes(secret), `push output shows a secret (${secret.slice(0, 12)}...)`);
    }
    const again = await server.ssh.exec(PUSH_COMMAND, { input: pushScript, timeoutMs: 5 * 60_000 });
    assert.equal(again.code, 0, describeRun(again));
    assert.match(again.stderr, /diy-push: done/);
    assert.doesNotMatch(again.stderr, /diy-push: (updated|linked|removed|restart|reload)/, again.stderr);
  });

  check("refuses SSH password login: the server offers public keys only", async () => {
    const r = await tryLogin({ port: server.port(22), user: "admin", method: "password" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  check("refuses root login even with the admin key", async () => {
    const r = await tryLogin({ port: server.port(22), user: "root", method: "publickey", key: adminKey.path });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
    const eff = await server.ssh.check(
      "sudo sshd -T | grep -Ei '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication) '",
    );
    assert.match(eff, /^permitrootlogin no$/m);
    assert.match(eff, /^passwordauthentication no$/m);
    assert.match(eff, /^kbdinteractiveauthentication no$/m);
    const who = await server.ssh.check("id -un; sudo -n id -un");
    assert.deepEqual(who.trim().split("\n"), ["admin", "root"]);
  });

  check("runs fail2ban's sshd jail on the journal and counts the refused logins", async () => {
    const status = await server.ssh.check("sudo fail2ban-client status sshd");
    assert.match(status, /Journal matches:\s+_SYSTEMD_UNIT=sshd\.service/, status);
    // The two refused logins above came from 10.0.2.2 (QEMU's view of the host), not an admin CIDR.
    const counted = await waitFor({
      what: "fail2ban counts failures",
      timeoutMs: 60_000,
      check: async () => {
        const s = await server.ssh.check("sudo fail2ban-client status sshd");
        const m = /Total failed:\s+(\d+)/.exec(s);
        return m && Number(m[1]) > 0 ? s : undefined;
      },
    });
    assert.match(counted, /Total failed:\s+[1-9]/);
    // (fail2ban's nftables table appears only with the first ban: nothing to assert before one.)
  });

  check("accepts an mTLS client of the stack CA on 8883 and refuses anonymous and foreign-CA clients", async () => {
    const port = server.port(8883);
    const client = await mqttConnect(
      port,
      { ca: pki.ca.certPem, cert: pki.probe.certPem, key: pki.probe.keyPem },
      "vm-probe",
    );
    assert.equal(client.connected, true);
    await client.endAsync();
    await assert.rejects(mqttConnect(port, { ca: pki.ca.certPem }, "anon"));
    await assert.rejects(
      mqttConnect(port, { ca: pki.ca.certPem, cert: pki.rogue.certPem, key: pki.rogue.keyPem }, DEVICE.id),
    );
    const listen = await server.ssh.check("sudo ss -Hltnp | grep mosquitto");
    assert.match(listen, /:8883\b/);
    assert.doesNotMatch(listen, /:1883\b/, "mosquitto must not listen on plain MQTT");
  });

  check("redirects HTTP to HTTPS and serves the login page over TLS with the stack's server certificate", async () => {
    const plain = await request({ port: server.port(80), path: "/api/devices" });
    assert.equal(plain.status, 301, plain.body);
    assert.match(String(plain.headers.location), /^https:\/\//);
    const page = await request({ port: server.port(443), path: "/", tls: https() });
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>DIY Device Cloud<\/title>/);
    assert.match(page.body, /type="password"/);
    assert.match(String(page.headers["strict-transport-security"]), /max-age=\d+/);
  });

  check("runs the web app behind nginx: /healthz says the broker link is up", async () => {
    const health = await waitFor({
      what: "web /healthz",
      timeoutMs: 90_000,
      check: async () => {
        const r = await request({ port: server.port(443), path: "/healthz", tls: https() });
        return r.status === 200 ? r : undefined;
      },
    });
    assert.deepEqual(JSON.parse(health.body), { status: "ok", broker: "connected" });
    const unit = await server.ssh.check(
      "systemctl is-active diy-web.service; systemctl is-enabled diy-web.service; ps -o user= -C node",
    );
    assert.deepEqual(unit.trim().split("\n").slice(0, 2), ["active", "enabled"]);
    assert.match(unit, /^diy-web$/m, "the web app runs as its own user");
    const listen = await server.ssh.check("sudo ss -Hltn 'sport = :3000'");
    assert.match(listen, /127\.0\.0\.1:3000/);
    assert.doesNotMatch(listen, /0\.0\.0\.0:3000|\*:3000/);
  });

  check("runs postfix as a loopback-only relay to the configured smarthost", async () => {
    const listen = await server.ssh.check("sudo ss -Hltn 'sport = :25'");
    const addrs = listen
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[3]);
    assert.ok(addrs.length > 0, "postfix does not listen at all");
    for (const a of addrs) assert.match(String(a), /^(127\.0\.0\.1|\[::1\]):25$/, `postfix listens on ${a}`);
    // /usr/sbin is not on a non-root login PATH on Debian
    const conf = await server.ssh.check("/usr/sbin/postconf -h inet_interfaces relayhost smtp_sasl_auth_enable");
    assert.deepEqual(conf.trim().split("\n"), ["loopback-only", `[${STACK.smtp.host}]:${STACK.smtp.port}`, "yes"]);
    assert.match(await server.ssh.check("sudo stat -c '%a %U' /etc/postfix/sasl_passwd"), /^600 root$/m);
  });

  check("provisions the device VM with the install script: service up as its own user, key readable only by it", async () => {
    assert.equal(install?.code, 0, `install failed: ${describeRun(install)}`);
    assert.ok(!`${install?.stdout}${install?.stderr}`.includes("PRIVATE KEY"), "install printed the key");
    const st = await device.ssh.check(
      "systemctl is-active diy-device.service; systemctl is-enabled diy-device.service; " +
        "sudo stat -c '%a %U:%G' /etc/diy-device/device.key; ps -o user= -C node",
    );
    const [active, enabled, keyMode] = st.trim().split("\n");
    assert.equal(active, "active", st);
    assert.equal(enabled, "enabled", st);
    assert.equal(keyMode, "640 root:diy-device");
    assert.match(st, /^diy-device$/m);
  }, ["device"]);

  check("a click on the web API travels nginx -> web -> mosquitto -> device VM and the device reports the new state", async () => {
    const bad = await request({
      port: server.port(443),
      path: "/api/login",
      method: "POST",
      tls: https(),
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: "wrong" }),
    });
    assert.equal(bad.status, 401);
    const login = await request({
      port: server.port(443),
      path: "/api/login",
      method: "POST",
      tls: https(),
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: STACK.webPassword }),
    });
    assert.equal(login.status, 200, login.body);
    const cookie = String(login.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
    assert.match(cookie, /=/);
    const { csrfToken } = JSON.parse(login.body) as { csrfToken: string };

    // The device reaches the broker through the host: it may still be in its reconnect backoff.
    await waitFor({
      what: "device online in the web app",
      timeoutMs: 4 * 60_000,
      check: async () => {
        const r = await request({ port: server.port(443), path: "/api/devices", tls: https(), headers: { cookie } });
        const d = (JSON.parse(r.body) as { devices: { id: string; online: boolean | null }[] }).devices.find(
          (x) => x.id === DEVICE.id,
        );
        return d?.online === true ? true : undefined;
      },
      progress: async () =>
        (await device.ssh.exec("sudo journalctl -u diy-device -n 1 --no-pager -o cat")).stdout.trim().slice(0, 150),
    });
    assert.equal(
      (await device.ssh.check("sudo cat /var/lib/diy-device/led.state")).trim(),
      "off",
      "safe state before any command",
    );

    const path = `/api/devices/${DEVICE.id}/outputs/led`;
    const noCsrf = await request({
      port: server.port(443),
      path,
      method: "POST",
      tls: https(),
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ value: "on" }),
    });
    assert.equal(noCsrf.status, 403, "a state change without the CSRF token must be refused");

    const events = waitForEvent(
      { port: server.port(443), path: "/api/events", tls: https(), headers: { cookie } },
      (event, data) => {
        const d = data as { id?: string; outputs?: { name: string; value: string | null }[] };
        return (
          event === "device" &&
          d.id === DEVICE.id &&
          d.outputs?.some((o) => o.name === "led" && o.value === "on") === true
        );
      },
      90_000,
    );
    try {
      await events.ready;
      const click = await request({
        port: server.port(443),
        path,
        method: "POST",
        tls: https(),
        headers: { cookie, "x-csrf-token": csrfToken, "content-type": "application/json" },
        body: JSON.stringify({ value: "on" }),
      });
      assert.equal(click.status, 202, click.body);
      const seen = await events.result;
      assert.equal(seen.event, "device");
    } finally {
      events.close();
    }
    assert.equal((await device.ssh.check("sudo cat /var/lib/diy-device/led.state")).trim(), "on");
    const list = await request({ port: server.port(443), path: "/api/devices", tls: https(), headers: { cookie } });
    const view = (
      JSON.parse(list.body) as { devices: { id: string; outputs: { name: string; value: string | null }[] }[] }
    ).devices.find((d) => d.id === DEVICE.id);
    assert.equal(view?.outputs.find((o) => o.name === "led")?.value, "on", list.body);

    // And back: the retained state follows.
    const off = await request({
      port: server.port(443),
      path,
      method: "POST",
      tls: https(),
      headers: { cookie, "x-csrf-token": csrfToken, "content-type": "application/json" },
      body: JSON.stringify({ value: "off" }),
    });
    assert.equal(off.status, 202, off.body);
    await waitFor({
      what: "device state file says off",
      timeoutMs: 60_000,
      intervalMs: 1_000,
      check: async () =>
        (await device.ssh.check("sudo cat /var/lib/diy-device/led.state")).trim() === "off" ? true : undefined,
    });
    // The broker holds the device's retained state for anyone allowed to read it (the web identity).
    const web = await mqttConnect(
      server.port(8883),
      { ca: pki.ca.certPem, cert: pki.web.certPem, key: pki.web.keyPem },
      "vm-web-check",
    );
    try {
      const retained = new Promise<string>((resolve) =>
        web.once("message", (_t, payload) => resolve(payload.toString())),
      );
      await web.subscribeAsync(topics.state(DEVICE.id, "led"), { qos: 1 });
      assert.match(await Promise.race([retained, sleep(15_000).then(() => "(no retained state)")]), /"value":"off"/);
    } finally {
      await web.endAsync();
    }
  }, ["server", "device"]);

  check("uninstall leaves the device clean: no unit, user, or /opt, /etc and state directories", async () => {
    const plan = deviceSetup?.plan;
    assert.ok(plan);
    const r = await device.ssh.exec(plan.uninstallCommand, { timeoutMs: 5 * 60_000 });
    assert.equal(r.code, 0, describeRun(r));
    const left = await device.ssh.check(
      "for p in /etc/systemd/system/diy-device.service /opt/diy-device /etc/diy-device /var/lib/diy-device; do [ -e $p ] && echo $p; done; " +
        "getent passwd diy-device; getent group diy-device; systemctl list-units --all --no-legend 'diy-device*'; true",
    );
    assert.equal(left.trim(), "", `left behind:\n${left}`);
  }, ["device"]);
});
