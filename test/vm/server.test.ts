// VM tier: the deployment, proven on Debian VMs under QEMU. The server VM (Debian 13) boots the rendered
// EC2 user data through NoCloud and receives the same SSH push the Pulumi program runs. Two board VMs stand
// in for Raspberry Pis on both releases a Pi runs today, each with a gpio-sim chip (real kernel GPIO lines,
// module built into the image) named like the Pi's: pi12 (Debian 12, libgpiod 1.6) is provisioned by the
// same install script and its real gpiod backend drives the lines, so a click on the web API sets GPIO17
// and a pull on GPIO27 arrives on the page as a button press; pi13 (Debian 13) proves its libgpiod 2.2
// tools on the chip. Each VM boots once; the checks below reuse it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CHECK_NAMES } from "../../scripts/verify/options";
import { type BaseImage, ensureBaseImage } from "./lib/image";
import { mqttConnect, request, waitForEvent } from "./lib/net";
import { makePki, type VmPki } from "./lib/pki";
import { log, type RunResult, run, waitUntilReady } from "./lib/proc";
import { generateKey, tryLogin } from "./lib/ssh";
import {
  BOARDS,
  type Board,
  boardUserData,
  copyToRemote,
  devicePlan,
  PUSH_COMMAND,
  SERVER_SUITE,
  STACK,
  type Suite,
  serverPush,
  serverUserData,
  vmStack,
} from "./lib/stack";
import { Vm } from "./lib/vm";

const work = mkdtempSync(join(tmpdir(), "diy-vm-"));
const chipScript = readFileSync(join(__dirname, "../../scripts/vm/gpio-sim-chip.sh"), "utf8");
let server: Vm;
let pki: VmPki;
let adminKey: { path: string; publicKey: string };
let deviceKey: { path: string; publicKey: string };
let failed = false;
let serverDown: Error | undefined;
const timings: Record<string, number> = {};

let pushScript = "";
let renderedStack: ReturnType<typeof vmStack> | undefined;
/** The stack's files, rendered once the server's forwarded ports are known. */
const stackFiles = () =>
  (renderedStack ??= vmStack(pki, {
    webUrl: `https://127.0.0.1:${server.port(443)}`,
    // The board dials the server's public address: from inside QEMU that is the gateway to the host.
    broker: { host: "10.0.2.2", port: server.port(8883) },
  }));
let push: RunResult | undefined;

/** A board VM and what happened to it during setup. */
interface BoardVm {
  board: Board;
  vm: Vm;
  /** gpio-sim chip and platform device ("gpiochip0", "gpio-sim.0"). */
  chip?: { name: string; device: string };
  setup?: ReturnType<typeof devicePlan>;
  install?: RunResult;
  down?: Error;
}
const boards = new Map<string, BoardVm>();
const boardVm = (id: string): BoardVm => {
  const b = boards.get(id);
  if (!b) throw new Error(`no board ${id}`);
  return b;
};
/** The libgpiod 2.2 board, whose spare lines also prove the chip with the bare 2.2 tools. */
const PI13 = "pi13";
const BOARD_IDS = BOARDS.map((b) => b.settings.id);

/**
 * Ceiling for a step that runs apt in a guest (the push, the board install: nodejs, gpiod). One to two minutes on
 * a quiet host; with three TCG guests on a 2-core host under other load, apt alone took over 10 minutes.
 */
const APT_CEILING_MS = 30 * 60_000;

const secs = (ms: number) => Math.round(ms / 1000);

async function boot(vm: Vm): Promise<void> {
  await vm.start();
  let sshMs: number;
  try {
    sshMs = await vm.waitForSsh();
  } catch (err) {
    // A guest that dies or freezes early under a heavily loaded host gets one more try, from a fresh overlay.
    if (!vm.crashed) throw err;
    log(vm.name, `crashed before SSH (${(err as Error).message.split("\n")[0]}); booting it once more`);
    await vm.start();
    sshMs = await vm.waitForSsh();
  }
  timings[`${vm.name} boot to SSH`] = secs(sshMs);
  timings[`${vm.name} CPU s to SSH`] = Math.round(vm.cpuSeconds());
  log(vm.name, `boot to SSH ${secs(sshMs)} s (QEMU used ${Math.round(vm.cpuSeconds())} CPU s)`);
  const ci = await vm.waitForCloudInit();
  timings[`${vm.name} cloud-init after SSH`] = secs(ci.ms);
  log(vm.name, `cloud-init done ${secs(ci.ms)} s later: ${ci.status.stdout.trim().split("\n")[0]}`);
}

/** Server: boot, then the push exactly as infra/server.ts runs it: staged files copied, PUSH_COMMAND with the script on stdin. */
async function serverChain(): Promise<void> {
  await boot(server);
  const rendered = serverPush(stackFiles());
  pushScript = rendered.script;
  const t = Date.now();
  await copyToRemote(server.ssh, rendered.staged);
  log("server", `push: ${PUSH_COMMAND} < rendered push script`);
  push = await server.ssh.exec(PUSH_COMMAND, { input: pushScript, timeoutMs: APT_CEILING_MS });
  timings["server push"] = secs(Date.now() - t);
  log("server", `push exit ${push.code} after ${secs(Date.now() - t)} s`);
}

/** Board: boot, the gpio-sim chip, then (when provisioned) the install command infra/devices.ts runs. */
async function boardChain(b: BoardVm): Promise<void> {
  await boot(b.vm);
  const [name, device] = (await b.vm.ssh.check("sudo sh -s", { input: chipScript })).trim().split(/\s+/);
  if (!name || !device) throw new Error(`${b.vm.name}: gpio-sim-chip.sh printed no chip`);
  b.chip = { name, device };
  log(b.vm.name, `gpio-sim chip ${name} (${device})`);
  b.setup = devicePlan(stackFiles(), b.board.settings.id);
  const t = Date.now();
  await copyToRemote(b.vm.ssh, b.setup.staged);
  log(b.vm.name, "install: rendered install command, payload on stdin");
  b.install = await b.vm.ssh.exec(b.setup.plan.installCommand, {
    input: b.setup.payload,
    timeoutMs: APT_CEILING_MS,
  });
  timings[`${b.vm.name} install`] = secs(Date.now() - t);
  log(b.vm.name, `install exit ${b.install.code} after ${secs(Date.now() - t)} s`);
}

/** Path of a simulated line's attribute (value: what the line is driven to; pull: the simulated outside world). */
function simAttr(b: BoardVm, offset: number, attr: "value" | "pull"): string {
  if (!b.chip) throw new Error(`${b.vm.name}: no gpio-sim chip`);
  return `/sys/devices/platform/${b.chip.device}/${b.chip.name}/sim_gpio${offset}/${attr}`;
}
const readSim = async (b: BoardVm, offset: number, attr: "value" | "pull") =>
  (await b.vm.ssh.check(`cat ${simAttr(b, offset, attr)}`)).trim();
const pullSim = (b: BoardVm, offset: number, pull: "pull-up" | "pull-down") =>
  b.vm.ssh.check(`echo ${pull} | sudo tee ${simAttr(b, offset, "pull")} >/dev/null`);
/** `gpioinfo` for the board's chip: 1.x takes the chip as an argument, 2.x as -c (a bare argument is a line). */
// sudo: /dev/gpiochip* belongs to root (and the gpio group the install script adds the service user to).
const gpioinfo = (b: BoardVm) => `sudo gpioinfo ${b.board.libgpiod === 1 ? "" : "-c "}${b.chip?.name}`;
/**
 * The chip's requested lines (offset -> consumer), as the kernel itself reports them in /sys/kernel/debug/gpio,
 * independent of the libgpiod tools (which uninstall removes). Rows are ` gpio-<n> (<text>) ...` under the chip's
 * header `gpiochip0: GPIOs 512-539, parent: platform/gpio-sim.0, ...`. gpiolib's generic listing (6.1) prints
 * `(NAME|CONSUMER)` for a requested line and `(NAME)` for a free named one; 6.12's gpio-sim prints its own
 * `(CONSUMER)` or `(<unused>)` (drivers/gpio/gpiolib.c gpiolib_dbg_show, drivers/gpio/gpio-sim.c gpio_sim_dbg_show).
 */
async function requestedLines(b: BoardVm): Promise<Map<number, string>> {
  if (!b.chip) throw new Error(`${b.vm.name}: no gpio-sim chip`);
  const text = await b.vm.ssh.check("sudo cat /sys/kernel/debug/gpio");
  const rows = text.split("\n");
  const head = rows.findIndex(
    (r) => r.startsWith(`${b.chip?.name}: GPIOs `) && r.includes(`platform/${b.chip?.device}`),
  );
  const base = Number(/GPIOs (\d+)-/.exec(rows[head] ?? "")?.[1]);
  assert.ok(
    head >= 0 && Number.isInteger(base),
    `no ${b.chip.name} (${b.chip.device}) in /sys/kernel/debug/gpio:\n${text}`,
  );
  const held = new Map<number, string>();
  for (const row of rows.slice(head + 1)) {
    const m = /^ gpio-(\d+)\s+\(([^)]*)\)/.exec(row);
    if (!m) break;
    const inside = m[2] ?? "";
    const consumer = inside.includes("|") ? inside.slice(inside.indexOf("|") + 1).trim() : inside.trim();
    const free = !inside.includes("|") && (consumer === "<unused>" || /^GPIO\d+$/.test(consumer));
    if (!free) held.set(Number(m[1]) - base, consumer);
  }
  return held;
}
const LED_OFFSET = 17;
const BUTTON_OFFSET = 27;
/** Lines the device service does not use, for the bare-tools check. */
const SPARE_OUT = 22;
const SPARE_IN = 23;

const https = () => ({ ca: pki.ca.certPem });

/** Logs in to the web app through nginx (after a wrong password is refused); the session cookie and CSRF token. */
async function login(): Promise<{ cookie: string; csrfToken: string }> {
  const attempt = (password: string) =>
    request({
      port: server.port(443),
      path: "/api/login",
      method: "POST",
      tls: https(),
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password }),
    });
  assert.equal((await attempt("wrong")).status, 401);
  const ok = await attempt(STACK.webPassword);
  assert.equal(ok.status, 200, ok.body);
  const cookie = String(ok.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
  assert.match(cookie, /=/);
  const { csrfToken } = JSON.parse(ok.body) as { csrfToken: string };
  return { cookie, csrfToken };
}

type DeviceView = { id: string; online: boolean | null; outputs: { name: string; value: string | null }[] };
async function deviceViews(cookie: string): Promise<DeviceView[]> {
  const r = await request({ port: server.port(443), path: "/api/devices", tls: https(), headers: { cookie } });
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { devices: DeviceView[] }).devices;
}

function describeRun(r: RunResult | undefined): string {
  return r
    ? `exit ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-4000)}`
    : "did not run";
}

describe("deployment on VMs: Debian 13 server from rendered user data + SSH push, Pi boards on Debian 12 and 13 with gpio-sim lines", {
  timeout: 80 * 60_000,
}, () => {
  before(async () => {
    const t0 = Date.now();
    // Both images at once (built from scratch in CI: debootstrap, packages, the gpio-sim module).
    const suites: Suite[] = [...new Set<Suite>([SERVER_SUITE, ...BOARDS.map((b) => b.suite)])];
    const images = new Map<Suite, BaseImage>();
    await Promise.all(
      suites.map(async (suite) => {
        const t = Date.now();
        images.set(suite, await ensureBaseImage(suite));
        timings[`image ${suite} (build or cache)`] = secs(Date.now() - t);
      }),
    );
    const image = (suite: Suite): BaseImage => {
      const i = images.get(suite);
      if (!i) throw new Error(`no ${suite} image`);
      return i;
    };
    adminKey = await generateKey(work, "admin_ed25519");
    deviceKey = await generateKey(work, "device_ed25519");
    pki = await makePki(BOARDS.map((b) => b.settings.id));
    server = new Vm({
      name: "server",
      image: image(SERVER_SUITE),
      dir: join(work, "server"),
      userData: serverUserData(),
      publicKeys: [adminKey.publicKey],
      hostname: "diy-cloud",
      forward: [80, 443, 8883],
      sshKey: adminKey.path,
      sshUser: "admin",
    });
    for (const board of BOARDS) {
      const d = board.settings;
      boards.set(d.id, {
        board,
        vm: new Vm({
          name: d.id,
          image: image(board.suite),
          dir: join(work, d.id),
          userData: boardUserData(d, deviceKey.publicKey),
          publicKeys: [],
          hostname: d.id,
          sshKey: deviceKey.path,
          sshUser: d.user,
          // A board runs the device service only: less memory leaves more to the server's apt.
          memoryMiB: 768,
        }),
      });
    }
    // All at once: under TCG most of the wait is each guest's own work (cloud-init's apt, the install's apt).
    // A device service starts before the broker is up and keeps reconnecting until it is.
    // A failed chain fails only the checks that need it (each asserts its VM is up).
    const chains = [serverChain(), ...[...boards.values()].map((b) => boardChain(b))];
    const results = await Promise.allSettled(chains);
    const [s, ...rest] = results;
    if (s?.status === "rejected") serverDown = s.reason as Error;
    [...boards.values()].forEach((b, i) => {
      const r = rest[i];
      if (r?.status === "rejected") b.down = r.reason as Error;
    });
    if (serverDown || [...boards.values()].some((b) => b.down)) failed = true;
    timings["setup total"] = secs(Date.now() - t0);
    log("vm", `setup done: ${JSON.stringify(timings)}`);
  });

  after(async () => {
    for (const vm of [server, ...[...boards.values()].map((b) => b.vm)]) {
      if (!vm) continue;
      if (failed) process.stderr.write(`${await vm.diagnostics()}\n`);
      await vm.stop();
      timings[`${vm.name} CPU s total`] = Math.round(vm.cpuSeconds());
    }
    log("vm", `timings (s): ${JSON.stringify(timings)}`);
    if (!failed) rmSync(work, { recursive: true, force: true });
    else log("vm", `kept ${work} for inspection`);
  });

  const check = (name: string, fn: () => Promise<void>, needs: readonly string[] = ["server"]) =>
    it(name, async () => {
      try {
        if (needs.includes("server") && serverDown) throw new Error(`server VM not ready: ${serverDown.message}`);
        for (const id of needs.filter((n) => n !== "server")) {
          const down = boardVm(id).down;
          if (down) throw new Error(`${id} VM not ready: ${down.message}`);
        }
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    });
  const allVms = ["server", ...BOARDS.map((b) => b.settings.id)];
  const vmsOf = (needs: readonly string[]) => needs.map((n) => (n === "server" ? server : boardVm(n).vm));

  check(
    "runs cloud-init to completion on every VM, with user data that passes cloud-init's own schema check",
    async () => {
      for (const vm of vmsOf(allVms)) {
        const r = await vm.ssh.exec("cloud-init status --long");
        assert.equal(r.code, 0, `${vm.name}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /status: done/, vm.name);
        const warnings = await vm.ssh.check(
          "sudo grep -E 'Invalid cloud-config|WARNING|DEPRECATED|Traceback' /var/log/cloud-init.log || true",
        );
        assert.equal(warnings.trim(), "", `${vm.name}: cloud-init warned:\n${warnings}`);
      }
      const release = await server.ssh.check(". /etc/os-release && echo $VERSION_CODENAME");
      assert.equal(release.trim(), SERVER_SUITE);
      const pkgs = await server.ssh.check(
        "dpkg-query -W -f='${Package} ${Status}\\n' mosquitto nginx fail2ban postfix nodejs unattended-upgrades",
      );
      for (const p of ["mosquitto", "nginx", "fail2ban", "postfix", "nodejs", "unattended-upgrades"]) {
        assert.match(pkgs, new RegExp(`^${p} install ok installed$`, "m"), pkgs);
      }
    },
    allVms,
  );

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
    // The jail reads the journal (backend = systemd). Which unit name its filter matches is fail2ban's
    // business (Debian 12's 0.11 names sshd.service + _COMM=sshd, Debian 13's 1.1 the real ssh.service):
    // what counts is that the refused logins reach it, asserted below.
    assert.match(status, /Journal matches:\s+(_SYSTEMD_UNIT|_COMM)=/, status);
    // The two refused logins above came from 10.0.2.2 (QEMU's view of the host), not an admin CIDR.
    const counted = await waitUntilReady({
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
      mqttConnect(port, { ca: pki.ca.certPem, cert: pki.rogue.certPem, key: pki.rogue.keyPem }, PI13),
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
    const health = await waitUntilReady({
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
    // Behind nginx the app has no TCP port: a unix socket only nginx's group (www-data) may open.
    const tcp = await server.ssh.check("sudo ss -Hltnp | grep -c node || true");
    assert.equal(tcp.trim(), "0", "the web app listens on no TCP port");
    const sock = await server.ssh.check("sudo stat -c '%F %a %U %G' /run/diy-web/web.sock");
    assert.equal(sock.trim(), "socket 660 diy-web www-data");
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

  check(
    "gives each board a gpio-sim chip whose Pi-named lines its own libgpiod finds by name",
    async () => {
      for (const b of boards.values()) {
        const version = await b.vm.ssh.check("gpioinfo --version | head -n 1");
        assert.match(version, new RegExp(`\\bv${b.board.libgpiod}\\.`), `${b.vm.name}: ${version}`);
        const info = await b.vm.ssh.check(gpioinfo(b));
        // 1.x: `line  17:   "GPIO17"   unused ...`; 2.x: `line  17: "GPIO17" input ...`
        for (const [n, off] of [
          ["GPIO17", LED_OFFSET],
          ["GPIO27", BUTTON_OFFSET],
        ] as const) {
          assert.match(info, new RegExp(`^\\s*line\\s+${off}:\\s+"${n}"`, "m"), `${b.vm.name}: ${info}`);
        }
        assert.equal(
          (await b.vm.ssh.check("uname -r")).trim(),
          (await b.vm.ssh.check("sudo modinfo -F vermagic gpio-sim")).trim().split(" ")[0],
        );
      }
    },
    BOARDS.map((b) => b.settings.id),
  );

  check("libgpiod 2.2's tools on Debian 13 set a simulated line, read the pull of another and see its edge", async () => {
    const b = boardVm(PI13);
    const chip = b.chip?.name ?? "";
    // gpioset 2.x stays in the foreground holding the line (gpioset(1) of libgpiod 2.2): read gpio-sim's value
    // while it holds GPIO22, then again once it is gone, when the released line falls back to its pull (down).
    const held = await b.vm.ssh.check(
      `sudo sh -c 'gpioset -c ${chip} GPIO22=1 & p=$!; i=0; ` +
        `until gpioinfo -c ${chip} GPIO22 | grep -q consumer=; do i=$((i+1)); [ $i -lt 150 ] || break; sleep 0.2; done; ` +
        `echo "held $(cat ${simAttr(b, SPARE_OUT, "value")})"; kill $p; wait $p; echo "released $(cat ${simAttr(b, SPARE_OUT, "value")})"'`,
    );
    assert.match(held, /^held 1$/m, `gpioset drove GPIO22 high: ${held}`);
    assert.match(held, /^released 0$/m, held);
    await pullSim(b, SPARE_IN, "pull-up");
    assert.match(await b.vm.ssh.check(`sudo gpioget -c ${chip} --numeric GPIO23`), /^1$/m);
    await pullSim(b, SPARE_IN, "pull-down");
    assert.match(await b.vm.ssh.check(`sudo gpioget -c ${chip} --numeric GPIO23`), /^0$/m);
    // An edge through gpio-sim's simulated interrupt (irq_sim, built into the module): the button released
    // (pulled up again) is a rising edge; gpiomon waits for one event, then exits.
    const mon = b.vm.ssh.exec(`sudo timeout 60 gpiomon -c ${chip} -e rising -n 1 GPIO23`, { timeoutMs: 90_000 });
    await waitUntilReady({
      what: "gpiomon holds GPIO23",
      timeoutMs: 30_000,
      intervalMs: 500,
      check: async () =>
        (await b.vm.ssh.check(`sudo gpioinfo -c ${chip} GPIO23`)).includes("gpiomon") ? true : undefined,
    });
    await pullSim(b, SPARE_IN, "pull-up");
    const r = await mon;
    assert.equal(r.code, 0, `gpiomon: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /rising/);
  }, [PI13]);

  for (const id of BOARD_IDS)
    check(`provisions ${id} with the install script: service up as its own user, holding its lines through libgpiod, key readable only by it`, async () => {
      const b = boardVm(id);
      assert.equal(b.install?.code, 0, `install failed: ${describeRun(b.install)}`);
      assert.ok(!`${b.install?.stdout}${b.install?.stderr}`.includes("PRIVATE KEY"), "install printed the key");
      const st = await b.vm.ssh.check(
        "systemctl is-active diy-device.service; systemctl is-enabled diy-device.service; " +
          "sudo stat -c '%a %U:%G' /etc/diy-device/device.key; ps -o user= -C node",
      );
      const [active, enabled, keyMode] = st.trim().split("\n");
      assert.equal(active, "active", st);
      assert.equal(enabled, "enabled", st);
      assert.equal(keyMode, "640 root:diy-device");
      assert.match(st, /^diy-device$/m);
      // The real gpiod backend holds both lines: the LED through gpioset, the button through gpiomon.
      const held = await waitUntilReady({
        what: `${id} lines held by the service`,
        timeoutMs: 120_000,
        check: async () => {
          const info = await b.vm.ssh.check(gpioinfo(b));
          // 1.x: `line  17: "GPIO17" "gpioset" output active-high [used]`, with a bias `[used pull-up]`;
          // 2.x: `line  17: "GPIO17" output consumer="diy-device"`
          const line = (off: number) => info.split("\n").find((l) => new RegExp(`^\\s*line\\s+${off}:`).test(l)) ?? "";
          const used = (l: string) => /\[used\b|consumer=/.test(l);
          const led = used(line(LED_OFFSET)) && /\boutput\b/.test(line(LED_OFFSET));
          const button = used(line(BUTTON_OFFSET)) && /\binput\b/.test(line(BUTTON_OFFSET));
          return led && button ? info : undefined;
        },
        progress: async () =>
          (await b.vm.ssh.exec("sudo journalctl -u diy-device -n 1 --no-pager -o cat")).stdout.trim().slice(0, 150),
      });
      assert.match(held, new RegExp(`line\\s+${BUTTON_OFFSET}:.*active-low`), "the button is active-low");
      // The kernel's own view agrees (the uninstall check below reads only that one).
      const requested = await requestedLines(b);
      for (const off of [LED_OFFSET, BUTTON_OFFSET])
        assert.match(
          requested.get(off) ?? "(free)",
          /^(gpioset|gpiomon|diy-device)$/,
          `line ${off} in /sys/kernel/debug/gpio`,
        );
      assert.equal(await readSim(b, LED_OFFSET, "value"), "0", "the LED starts in its safe state (off)");
    }, [id]);

  for (const id of BOARD_IDS)
    check(`a click on the web API sets ${id}'s GPIO17 (nginx -> web -> mosquitto -> libgpiod), and a pull on GPIO27 shows on the page as a press`, async () => {
      const b = boardVm(id);
      const { cookie, csrfToken } = await login();

      // The device reaches the broker through the host: it may still be in its reconnect backoff.
      await waitUntilReady({
        what: `${id} online in the web app`,
        timeoutMs: 4 * 60_000,
        check: async () => ((await deviceViews(cookie)).find((x) => x.id === id)?.online === true ? true : undefined),
        progress: async () =>
          (await b.vm.ssh.exec("sudo journalctl -u diy-device -n 1 --no-pager -o cat")).stdout.trim().slice(0, 150),
      });
      assert.equal(await readSim(b, LED_OFFSET, "value"), "0", "safe state before any command");

      const path = `/api/devices/${id}/outputs/led`;
      const noCsrf = await request({
        port: server.port(443),
        path,
        method: "POST",
        tls: https(),
        headers: { cookie, "content-type": "application/json" },
        body: JSON.stringify({ value: "on" }),
      });
      assert.equal(noCsrf.status, 403, "a state change without the CSRF token must be refused");

      /** Clicks the LED to `value` through the web API; resolves with the page's event that the board reported it. */
      const clickLed = async (value: "on" | "off") => {
        const reported = waitForEvent(
          { port: server.port(443), path: "/api/events", tls: https(), headers: { cookie } },
          (event, data) => {
            const d = data as { id?: string; outputs?: { name: string; value: string | null }[] };
            return (
              event === "device" &&
              d.id === id &&
              d.outputs?.some((o) => o.name === "led" && o.value === value) === true
            );
          },
          90_000,
        );
        try {
          await reported.ready;
          const click = await request({
            port: server.port(443),
            path,
            method: "POST",
            tls: https(),
            headers: { cookie, "x-csrf-token": csrfToken, "content-type": "application/json" },
            body: JSON.stringify({ value }),
          });
          assert.equal(click.status, 202, click.body);
          return await reported.result;
        } finally {
          reported.close();
        }
      };

      const seen = await clickLed("on");
      assert.equal(seen.event, "device");
      // The kernel line itself, read back through gpio-sim: the device reported "on" only after driving it.
      assert.equal(await readSim(b, LED_OFFSET, "value"), "1", "GPIO17 is high");
      const view = (await deviceViews(cookie)).find((d) => d.id === id);
      assert.equal(view?.outputs.find((o) => o.name === "led")?.value, "on", JSON.stringify(view));

      // And back, against a pull-up: gpio-sim keeps a driven output's value whatever the pull, but a released line
      // falls back to its pull (drivers/gpio/gpio-sim.c gpio_sim_apply_pull, gpio_sim_free). Only a line the
      // service still holds low reads 0 here, so this proves libgpiod 2.x's one-gpioset-per-value hand-over too.
      await pullSim(b, LED_OFFSET, "pull-up");
      try {
        assert.equal(await readSim(b, LED_OFFSET, "value"), "1", "GPIO17 still driven high");
        await clickLed("off");
        assert.equal(await readSim(b, LED_OFFSET, "value"), "0", "GPIO17 driven low against the pull-up");
      } finally {
        await pullSim(b, LED_OFFSET, "pull-down");
      }

      // The button: pressing it pulls GPIO27 to ground (gpio-sim's pull attribute is the outside world).
      const pressed = waitForEvent(
        { port: server.port(443), path: "/api/events", tls: https(), headers: { cookie } },
        (event, data) => {
          const d = data as { deviceId?: string; name?: string; value?: string };
          return event === "input" && d.deviceId === id && d.name === "button" && d.value === "pressed";
        },
        90_000,
      );
      try {
        await pressed.ready;
        await pullSim(b, BUTTON_OFFSET, "pull-down");
        const seen = await pressed.result;
        assert.equal(seen.event, "input");
      } finally {
        pressed.close();
        await pullSim(b, BUTTON_OFFSET, "pull-up");
      }
    }, ["server", id]);

  check("keeps each board's state on the broker: a restarted web app shows every board online with its LED off", async () => {
    // The web app holds device state only in memory and learns it from the retained messages the broker
    // replays on subscribe (the boards stay connected, so they publish nothing new).
    await server.ssh.check("sudo systemctl restart diy-web.service", { timeoutMs: 5 * 60_000 });
    await waitUntilReady({
      what: "restarted web app up",
      timeoutMs: 3 * 60_000,
      check: async () => {
        const r = await request({ port: server.port(443), path: "/healthz", tls: https() }).catch(() => undefined);
        return r?.status === 200 && /"connected"/.test(r.body) ? true : undefined;
      },
    });
    const { cookie } = await login();
    const views = await waitUntilReady({
      what: "boards' retained state in the restarted web app",
      timeoutMs: 3 * 60_000,
      check: async () => {
        const v = await deviceViews(cookie);
        return BOARD_IDS.every((id) => v.find((d) => d.id === id)?.online === true) ? v : undefined;
      },
    });
    for (const id of BOARD_IDS) {
      const view = views.find((d) => d.id === id);
      assert.equal(view?.outputs.find((o) => o.name === "led")?.value, "off", JSON.stringify(view));
    }
  }, ["server", ...BOARD_IDS]);

  check("npm run verify, fed the stack outputs from a file, passes every check against the server VM", async () => {
    // What `pulumi stack output --json --show-secrets` prints for this stack; the VM's ports are forwarded to
    // 127.0.0.1, and the server certificate names 127.0.0.1 as the public address.
    const outputsFile = join(work, "outputs.json");
    writeFileSync(
      outputsFile,
      JSON.stringify({
        webUrl: "https://127.0.0.1",
        brokerEndpoint: "127.0.0.1:8883",
        caCertPem: pki.ca.certPem,
        webPassword: STACK.webPassword,
        publicIp: "127.0.0.1",
      }),
      { mode: 0o600 },
    );
    const maps = [22, 80, 443, 8883].flatMap((p) => ["--map", `${p}=${server.port(p)}`]);
    const verify = (ssh: "open" | "closed") =>
      run(
        "npm",
        ["run", "--silent", "verify", "--", "--outputs", outputsFile, "--host", "127.0.0.1", ...maps, "--ssh", ssh],
        {
          cwd: join(__dirname, "../.."),
          timeoutMs: 5 * 60_000,
        },
      );
    const r = await verify("open");
    assert.equal(r.code, 0, describeRun(r));
    // One line per check, the device check as one line per device ("device pi12  online") and the page's live
    // socket through the server's nginx.
    const lines = [
      ...CHECK_NAMES.filter((n) => n !== "devices"),
      ...BOARD_IDS.map((id) => `device ${id}`),
      "live-socket",
    ];
    for (const name of lines) assert.match(r.stdout, new RegExp(`^PASS\\s+${name}\\s`, "m"), r.stdout);
    assert.match(r.stdout, new RegExp(`^verify: ${lines.length} passed, 0 failed$`, "m"), r.stdout);
    // And it can fail: this host does reach 22, so expecting it closed is a failure of the ssh check alone.
    const closed = await verify("closed");
    assert.equal(closed.code, 1, describeRun(closed));
    assert.match(closed.stdout, /^FAIL\s+ssh\s/m, closed.stdout);
    assert.match(closed.stdout, /^verify: \d+ passed, 1 failed \(ssh\)$/m, closed.stdout);
  }, ["server", ...BOARD_IDS]);

  for (const id of BOARD_IDS)
    check(`uninstall leaves ${id} clean: no unit, user, or /opt, /etc and state directories, and its lines released`, async () => {
      const b = boardVm(id);
      const plan = b.setup?.plan;
      assert.ok(plan);
      const r = await b.vm.ssh.exec(plan.uninstallCommand, { timeoutMs: 5 * 60_000 });
      assert.equal(r.code, 0, describeRun(r));
      const left = await b.vm.ssh.check(
        "for p in /etc/systemd/system/diy-device.service /opt/diy-device /etc/diy-device /var/lib/diy-device; do [ -e $p ] && echo $p; done; " +
          "getent passwd diy-device; getent group diy-device; systemctl list-units --all --no-legend 'diy-device*'; true",
      );
      assert.equal(left.trim(), "", `left behind:\n${left}`);
      const held = await requestedLines(b);
      for (const off of [LED_OFFSET, BUTTON_OFFSET]) assert.equal(held.get(off), undefined, `line ${off} still held`);
      // The packages the installer added (neither is in the base image) go with it.
      const pkgs = await b.vm.ssh.check("dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' gpiod nodejs 2>&1; true");
      assert.doesNotMatch(pkgs, /^(gpiod|nodejs) ii/m, pkgs);
    }, [id]);
});
