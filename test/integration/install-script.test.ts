import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  renderDeviceUninstallScript,
  renderRemoteInvocation,
  renderStagedInvocation,
} from "../../infra/render/device-install";
import { renderDevicePayload, type DevicePayloadInput } from "../../infra/render/device-payload";
import { renderDeviceUnit } from "../../infra/render/device-unit";
import { renderDeviceUdevRules } from "../../infra/render/device-udev";
import { piInstallScript } from "../support/device-install";

// The install and uninstall scripts run for real with bash against a fake root: DIY_ROOT is a temp
// dir, and PATH holds only the real tools they need plus fakes of everything that would change the
// host (apt-get, useradd, chown, systemctl, udevadm ...), which record their calls.

const KEY = "-----BEGIN PRIVATE KEY-----\nTHIS-IS-THE-SECRET-DEVICE-KEY\n-----END PRIVATE KEY-----\n";
const BRIDGE_KEY = "-----BEGIN PRIVATE KEY-----\nTHIS-IS-THE-SECRET-BRIDGE-KEY\n-----END PRIVATE KEY-----\n";
const BRIDGE_CERT = "-----BEGIN CERTIFICATE-----\nTHE-BRIDGE-IDENTITY\n-----END CERTIFICATE-----\n";
const LAN_PASSWORD = "lan-secret-password-for-ard1";
/** The device service bundle, copied beside the command (as remote.CopyToRemote does) rather than on stdin. */
const BUNDLE = "console.log('device service');\n";
const BUNDLE_SHA256 = createHash("sha256").update(BUNDLE).digest("hex");
const STAGED_DIR = ".diy-device-cloud";

const REAL_TOOLS = [
  "bash",
  "cat",
  "head",
  "tail",
  "awk",
  "base64",
  "rm",
  "mv",
  "install",
  "chmod",
  "mkdir",
  "mktemp",
  "grep",
  "id",
  "printf",
  "sh",
  "sha256sum",
  "cp",
  "rmdir",
  "mosquitto_passwd",
];

/** In a fake node: with FAKE_NODE_SIGILL set it dies as a build for another CPU does (128 + SIGILL). */
const NODE_CRASH = '[ -n "${FAKE_NODE_SIGILL:-}" ] && { echo "Illegal instruction" >&2; exit 132; }';

const FAKES: Record<string, string> = {
  // Every fake records its argv; FAKE_ROOT is the fake / (its passwd and group files).
  "apt-get": `
case " $* " in
  *" install "*)
    for p in "$@"; do
      case "$p" in
        nodejs) printf '#!/bin/bash\\n%s\\necho "\${FAKE_NODE_MAJOR:-18}"\\n' "$FAKE_NODE_CRASH" > "$FAKE_BIN/node"; chmod +x "$FAKE_BIN/node" ;;
        gpiod) printf '#!/bin/bash\\n' > "$FAKE_BIN/gpioset"; chmod +x "$FAKE_BIN/gpioset" ;;
        mosquitto) printf '#!/bin/bash\\n' > "$FAKE_BIN/mosquitto"; chmod +x "$FAKE_BIN/mosquitto" ;;
      esac
    done ;;
  *" purge "*)
    for p in "$@"; do
      case "$p" in
        nodejs) rm -f "$FAKE_BIN/node" ;;
        gpiod) rm -f "$FAKE_BIN/gpioset" ;;
        mosquitto) rm -f "$FAKE_BIN/mosquitto" ;;
      esac
    done ;;
esac`,
  dpkg: 'echo "${FAKE_ARCH:-arm64}"',
  uname: 'echo "${FAKE_MACHINE:-aarch64}"',
  getent: 'grep "^$2:" "$FAKE_ROOT/etc/$1"',
  groupadd: 'echo "${@: -1}:x:990:" >> "$FAKE_ROOT/etc/group"',
  useradd: 'echo "${@: -1}:x:990:990::/var/lib/diy-device:/usr/sbin/nologin" >> "$FAKE_ROOT/etc/passwd"',
  usermod: "true",
  userdel:
    'grep -v "^$1:" "$FAKE_ROOT/etc/passwd" > "$FAKE_ROOT/etc/passwd.new" || true; mv "$FAKE_ROOT/etc/passwd.new" "$FAKE_ROOT/etc/passwd"',
  groupdel:
    'grep -v "^$1:" "$FAKE_ROOT/etc/group" > "$FAKE_ROOT/etc/group.new" || true; mv "$FAKE_ROOT/etc/group.new" "$FAKE_ROOT/etc/group"',
  chown: "true",
  udevadm: "true",
  systemctl: "true",
  sudo: '[ "$1" = -n ] && shift; exec "$@"',
};

interface FakeRoot {
  root: string;
  bin: string;
  /** The SSH user's home (HOME) and the staging directory in it, holding the copied bundle ($1 of the scripts). */
  home: string;
  staged: string;
  calls(): string[];
  run(
    script: string,
    stdin: string,
    env?: Record<string, string>,
  ): { status: number | null; stdout: string; stderr: string };
  /** Path inside the fake root -> { mode, content } of every file below the given dirs. */
  tree(): Map<string, { mode: string; content: string }>;
}

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function fakeRoot(
  opts: { os?: string; node?: boolean; gpioGroup?: boolean; systemd?: boolean; mosquitto?: boolean } = {},
): FakeRoot {
  const base = mkdtempSync(join(tmpdir(), "diy-install-"));
  made.push(base);
  const root = join(base, "root");
  const bin = join(base, "bin");
  const log = join(base, "calls.log");
  const home = join(base, "home");
  const staged = join(home, STAGED_DIR);
  mkdirSync(staged, { recursive: true });
  writeFileSync(join(staged, "device.js"), BUNDLE);
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(bin);
  writeFileSync(log, "");
  writeFileSync(
    join(root, "etc/os-release"),
    opts.os ?? 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  );
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  writeFileSync(join(root, "etc/group"), `root:x:0:\nmosquitto:x:120:\n${opts.gpioGroup ? "gpio:x:997:\n" : ""}`);
  if (opts.systemd !== false) mkdirSync(join(root, "run/systemd/system"), { recursive: true });
  for (const tool of REAL_TOOLS) {
    const found = spawnSync("bash", ["-c", `type -P ${tool}`], { encoding: "utf8" }).stdout.trim();
    assert.ok(found.startsWith("/"), `${tool} must be installed for this test`);
    symlinkSync(found, join(bin, tool));
  }
  for (const [name, body] of Object.entries(FAKES)) {
    writeFileSync(join(bin, name), `#!/bin/bash\nprintf '%s\\n' "${name} $*" >> "${log}"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const present = { node: opts.node ?? false, mosquitto: opts.mosquitto ?? false };
  if (present.node)
    writeFileSync(join(bin, "node"), `#!/bin/bash\n${NODE_CRASH}\necho "\${FAKE_NODE_MAJOR:-18}"\n`, { mode: 0o755 });
  if (present.mosquitto) writeFileSync(join(bin, "mosquitto"), "#!/bin/bash\n", { mode: 0o755 });
  return {
    root,
    bin,
    home,
    staged,
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(root).join("")),
    run(script, stdin, env = {}) {
      const r = spawnSync(join(bin, "bash"), ["-c", script, "diy-test", staged], {
        input: stdin,
        encoding: "utf8",
        env: {
          PATH: bin,
          HOME: home,
          DIY_ROOT: root,
          DIY_SYSTEMCTL: join(bin, "systemctl"),
          FAKE_ROOT: root,
          FAKE_BIN: bin,
          TMPDIR: base,
          ...env,
        },
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    tree() {
      const out = new Map<string, { mode: string; content: string }>();
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const p = join(dir, name);
          const st = statSync(p);
          const rel = p.slice(root.length);
          if (st.isDirectory()) {
            out.set(`${rel}/`, { mode: (st.mode & 0o7777).toString(8), content: "" });
            walk(p);
          } else out.set(rel, { mode: (st.mode & 0o7777).toString(8), content: readFileSync(p, "utf8") });
        }
      };
      walk(root);
      return out;
    },
  };
}

function payload(extra: DevicePayloadInput = {}): string {
  return renderDevicePayload({
    "config.json": '{"deviceId":"pi1"}\n',
    "ca.pem": "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
    "device.pem": "-----BEGIN CERTIFICATE-----\nPI1\n-----END CERTIFICATE-----\n",
    "device.key": KEY,
    "diy-device.service": renderDeviceUnit({ deviceId: "pi1" }),
    ...extra,
  });
}

const install = piInstallScript({ gpiod: true, gpioGroup: true, bridge: false }, BUNDLE_SHA256);
const uninstall = renderDeviceUninstallScript({ deviceId: "pi1" });
const udev = renderDeviceUdevRules({ kernelLeds: ["led0"], gpioGroup: true });

function chownOf(calls: string[], path: string): string | undefined {
  return calls
    .filter((c) => c.startsWith("chown ") && (c.endsWith(` ${path}`) || c.endsWith(` ${path}.diy-new`)))
    .at(-1)
    ?.split(" ")[1];
}

describe("install script shellcheck", () => {
  it("passes shellcheck for every role and the uninstall script", () => {
    for (const [name, script] of [
      ["install", install],
      ["install-bridge", piInstallScript({ gpiod: false, gpioGroup: false, bridge: true }, BUNDLE_SHA256)],
      ["uninstall", uninstall],
    ] as const) {
      const r = spawnSync("shellcheck", ["--shell=bash", "-"], { input: script, encoding: "utf8" });
      assert.equal(r.status, 0, `${name}:\n${r.stdout}${r.stderr}`);
    }
  });

  // The scripts are kept as .sh files and linted in place; the renderer only puts the board's values in front.
  it("infra/render/scripts/*.sh pass shellcheck as they are, following the library they source", () => {
    const dir = join(__dirname, "../../infra/render/scripts");
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".sh"))
      .map((f) => join(dir, f));
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)).sort(), [
      "device-install.sh",
      "device-lib.sh",
      "device-uninstall.sh",
    ]);
    const r = spawnSync("shellcheck", ["--external-sources", "--severity=style", ...files], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});

describe("remote invocation and unit checks", () => {
  it("the remote command line passes shellcheck as POSIX sh (the login shell may be dash)", () => {
    const line = renderRemoteInvocation(install, "diy-device-install", STAGED_DIR);
    const r = spawnSync("shellcheck", ["--shell=sh", "-"], { input: `${line}\n`, encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("systemd-analyze verify accepts the rendered unit", () => {
    const dir = mkdtempSync(join(tmpdir(), "diy-unit-"));
    made.push(dir);
    const unit = join(dir, "diy-device.service");
    writeFileSync(unit, renderDeviceUnit({ deviceId: "pi1" }));
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /diy-device\.service:.*(Unknown|Invalid|Failed)/i);
  });
});

describe("install script on a fake root", () => {
  it("installs nodejs and gpiod from apt, the user, the files with tight modes, and starts the unit", () => {
    const fr = fakeRoot();
    const r = fr.run(install, payload({ "udev.rules": udev }));
    assert.equal(r.status, 0, r.stderr);
    const calls = fr.calls();
    assert.ok(
      calls.some((c) => c.startsWith("apt-get") && c.includes(" update")),
      "apt-get update before installing",
    );
    assert.ok(
      calls.some((c) => /^apt-get .* install -y --no-install-recommends nodejs$/.test(c)),
      calls.join("\n"),
    );
    assert.ok(calls.some((c) => /^apt-get .* install -y --no-install-recommends gpiod$/.test(c)));
    assert.ok(calls.includes("groupadd --system diy-device"));
    assert.ok(
      calls.some(
        (c) =>
          c.startsWith("useradd --system --gid diy-device") &&
          c.includes("--shell /usr/sbin/nologin") &&
          c.endsWith(" diy-device"),
      ),
    );
    assert.ok(calls.includes("groupadd --system gpio"), "a gpio group is made where the OS has none");
    assert.ok(calls.includes("usermod -a -G gpio diy-device"));

    const tree = fr.tree();
    assert.equal(tree.get("/opt/diy-device/")?.mode, "755");
    assert.equal(tree.get("/opt/diy-device/device.js")?.content, "console.log('device service');\n");
    assert.equal(tree.get("/etc/diy-device/")?.mode, "750");
    assert.equal(tree.get("/etc/diy-device/device.key")?.content, KEY);
    assert.equal(tree.get("/etc/diy-device/device.key")?.mode, "640");
    assert.equal(tree.get("/etc/diy-device/config.json")?.mode, "640");
    assert.equal(tree.get("/etc/diy-device/device.pem")?.mode, "644");
    assert.equal(tree.get("/var/lib/diy-device/")?.mode, "750");
    assert.match(tree.get("/etc/systemd/system/diy-device.service")?.content ?? "", /^User=diy-device$/m);
    assert.equal(tree.get("/etc/udev/rules.d/99-diy-device.rules")?.content, udev);
    assert.equal(chownOf(calls, "/etc/diy-device/device.key"), "root:diy-device");
    assert.equal(chownOf(calls, "/etc/diy-device"), "root:diy-device");
    assert.equal(chownOf(calls, "/var/lib/diy-device"), "diy-device:diy-device");
    assert.equal(chownOf(calls, "/opt/diy-device/device.js"), "root:root");
    assert.ok(![...tree.keys()].some((k) => k.endsWith(".diy-new")), "no half-installed files left");

    const systemctl = calls.filter((c) => c.startsWith("systemctl"));
    assert.deepEqual(systemctl.slice(0, 3), [
      "systemctl daemon-reload",
      "systemctl enable diy-device.service",
      "systemctl restart diy-device.service",
    ]);
    assert.ok(calls.includes("udevadm control --reload-rules"));
  });

  it("never puts the key in argv, stdout or stderr, and leaves no staging copy behind", () => {
    const fr = fakeRoot({ node: true });
    const r = fr.run(install, payload());
    assert.equal(r.status, 0, r.stderr);
    for (const text of [r.stdout, r.stderr, fr.calls().join("\n")])
      assert.ok(!text.includes("THIS-IS-THE-SECRET"), text);
    const base = join(fr.root, "..");
    assert.deepEqual(readdirSync(base).sort(), ["bin", "calls.log", "home", "root"], "the staging dir is removed");
  });

  it("is idempotent: a second run leaves the same files and adds no user or package", () => {
    const fr = fakeRoot({ gpioGroup: true });
    assert.equal(fr.run(install, payload({ "udev.rules": udev })).status, 0);
    const first = fr.tree();
    const callsBefore = fr.calls().length;
    const r = fr.run(install, payload({ "udev.rules": udev }));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fr.tree(), first);
    const second = fr.calls().slice(callsBefore);
    assert.ok(!second.some((c) => /^(apt-get|useradd|groupadd)/.test(c)), second.join("\n"));
    assert.ok(second.includes("systemctl restart diy-device.service"));
  });

  it("keeps an existing node and the OS's gpio group, and uses no apt at all then", () => {
    const fr = fakeRoot({ node: true, gpioGroup: true });
    writeFileSync(join(fr.bin, "gpioset"), "#!/bin/bash\n", { mode: 0o755 });
    assert.equal(fr.run(install, payload()).status, 0);
    const calls = fr.calls();
    assert.ok(!calls.some((c) => c.startsWith("apt-get")), calls.join("\n"));
    assert.ok(!calls.includes("groupadd --system gpio"));
    assert.ok(calls.includes("usermod -a -G gpio diy-device"));
  });

  it("installs but does not start the unit where systemd is not running", () => {
    const fr = fakeRoot({ node: true, systemd: false });
    const r = fr.run(install, payload());
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fr.calls().some((c) => c.startsWith("systemctl") || c.startsWith("udevadm")));
    assert.ok(existsSync(join(fr.root, "etc/systemd/system/diy-device.service")));
    assert.match(r.stdout, /systemd is not running/);
  });

  it("removes an earlier udev rule when the config no longer needs one", () => {
    const fr = fakeRoot({ node: true });
    assert.equal(fr.run(install, payload({ "udev.rules": udev })).status, 0);
    assert.equal(fr.run(install, payload()).status, 0);
    assert.ok(!existsSync(join(fr.root, "etc/udev/rules.d/99-diy-device.rules")));
  });

  for (const [what, os, arch, message] of [
    [
      "Fedora",
      'ID=fedora\nVERSION_ID="40"\nPRETTY_NAME="Fedora Linux 40"\n',
      "amd64",
      /unsupported OS Fedora Linux 40: supported are Debian 12 or 13, Raspberry Pi OS bookworm or trixie/,
    ],
    [
      "Debian 11",
      'ID=debian\nVERSION_ID="11"\nPRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\n',
      "arm64",
      /unsupported OS Debian GNU\/Linux 11 \(bullseye\): its nodejs is older than Node 18/,
    ],
    [
      "Ubuntu 22.04",
      'ID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n',
      "amd64",
      /unsupported OS Ubuntu 22\.04\.4 LTS/,
    ],
    ["i386", undefined, "i386", /unsupported architecture i386: supported are .* on arm64, armhf or amd64/],
  ] as const) {
    it(`refuses ${what} with a clear message and changes nothing`, () => {
      const fr = fakeRoot({ ...(os === undefined ? {} : { os }) });
      const before = fr.tree();
      const r = fr.run(install, payload(), { FAKE_ARCH: arch });
      assert.equal(r.status, 1);
      assert.match(r.stderr, message);
      assert.deepEqual(fr.tree(), before);
      assert.ok(!fr.calls().some((c) => /^(apt-get|useradd|systemctl|chown)/.test(c)));
    });
  }

  // /etc/os-release as each image ships it: Raspberry Pi OS 64-bit is Debian's arm64 with the Pi's kernel and
  // firmware (ID=debian), the 32-bit image is Raspbian (ID=raspbian, armhf built for ARMv6 and up).
  const DEBIAN13 =
    'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION_CODENAME=trixie\nID=debian\n';
  const RASPBIAN13 =
    'PRETTY_NAME="Raspbian GNU/Linux 13 (trixie)"\nNAME="Raspbian GNU/Linux"\nVERSION_ID="13"\nVERSION_CODENAME=trixie\nID=raspbian\nID_LIKE=debian\n';
  for (const [what, os, arch, machine, nodeMajor] of [
    [
      "Raspberry Pi OS bookworm 32-bit",
      'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\nVERSION_ID="12"\n',
      "armhf",
      "armv7l",
      "18",
    ],
    ["Ubuntu 24.04", 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n', "amd64", "x86_64", "18"],
    ["Debian 13 on amd64", DEBIAN13, "amd64", "x86_64", "20"],
    ["Raspberry Pi OS trixie 64-bit (a Pi 5)", DEBIAN13, "arm64", "aarch64", "20"],
    ["Raspberry Pi OS trixie 32-bit (a Pi 3)", RASPBIAN13, "armhf", "armv7l", "20"],
  ] as const) {
    it(`installs on ${what} with the OS's nodejs (Node ${nodeMajor}) and gpiod`, () => {
      const fr = fakeRoot({ os });
      const r = fr.run(install, payload(), { FAKE_ARCH: arch, FAKE_MACHINE: machine, FAKE_NODE_MAJOR: nodeMajor });
      assert.equal(r.status, 0, r.stderr);
      const name = /PRETTY_NAME="([^"]+)"/.exec(os)?.[1] ?? "";
      assert.ok(r.stdout.includes(`platform: ${name} on ${arch} (${machine})`), r.stdout);
      assert.ok(fr.calls().some((c) => /^apt-get .* install -y --no-install-recommends nodejs$/.test(c)));
      assert.ok(fr.calls().some((c) => /^apt-get .* install -y --no-install-recommends gpiod$/.test(c)));
      assert.match(r.stdout, /installed$/m);
    });
  }

  it("stops on an ARMv6 Pi (Zero, Zero W, 1) whose nodejs does not run, saying so, before installing the service", () => {
    const fr = fakeRoot({ os: RASPBIAN13 });
    const r = fr.run(install, payload(), {
      FAKE_ARCH: "armhf",
      FAKE_MACHINE: "armv6l",
      FAKE_NODE_CRASH: NODE_CRASH,
      FAKE_NODE_SIGILL: "1",
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /node is installed but does not run on this ARMv6 CPU \(Raspberry Pi Zero, Zero W or 1\): the device service needs a Node 18\+ built for ARMv6, installed by hand, or a board with ARMv7 or later/,
    );
    assert.ok(!existsSync(join(fr.root, "etc/systemd/system/diy-device.service")));
    assert.ok(!fr.calls().some((c) => /^(useradd|systemctl)/.test(c)));
    // The same failure elsewhere names no board.
    const other = fakeRoot({ os: DEBIAN13, node: true });
    const r2 = other.run(install, payload(), { FAKE_MACHINE: "aarch64", FAKE_NODE_SIGILL: "1" });
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /node is installed but does not run here \(try: node --version\)/);
  });

  it("installs on an ARMv6 Pi when its nodejs runs", () => {
    const fr = fakeRoot({ os: RASPBIAN13 });
    const r = fr.run(install, payload(), { FAKE_ARCH: "armhf", FAKE_MACHINE: "armv6l", FAKE_NODE_MAJOR: "20" });
    assert.equal(r.status, 0, r.stderr);
  });

  it("refuses a node older than 18 that is already installed", () => {
    const fr = fakeRoot({ node: true });
    const r = fr.run(install, payload(), { FAKE_NODE_MAJOR: "12" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Node 12 is too old: the device service needs Node 18 or later/);
  });

  it("refuses a truncated payload or none at all before touching anything", () => {
    const full = payload();
    for (const [stdin, message] of [
      [full.slice(0, full.length - 20), /incomplete/],
      ["", /no diy-device payload/],
      [
        renderDevicePayload({
          "config.json": "{}",
          "ca.pem": "c",
          "device.pem": "d",
          "device.key": "k",
          "diy-device.service": "u",
        }).replace(/=file device.key\n.*\n/, ""),
        /the payload has no device.key/,
      ],
    ] as const) {
      const fr = fakeRoot({ node: true });
      const before = fr.tree();
      const r = fr.run(install, stdin);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, message);
      assert.deepEqual(fr.tree(), before);
    }
  });

  it("runs through the remote invocation line with the payload on stdin", () => {
    const fr = fakeRoot({ node: true });
    const line = renderRemoteInvocation(install, "diy-device-install", STAGED_DIR);
    const r = fr.run(`exec sh -c ${shellQuote(line)}`, payload());
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(fr.root, "etc/diy-device/device.key"), "utf8"), KEY);
    assert.ok(!line.includes("SECRET"));
  });
});

describe("the bundle copied beside the install (remote.CopyToRemote), not sent on stdin", () => {
  it("refuses a copied bundle that is not the one the stack built, before changing anything", () => {
    const fr = fakeRoot({ node: true });
    writeFileSync(join(fr.staged, "device.js"), "console.log('tampered');\n");
    const before = fr.tree();
    const r = fr.run(install, payload());
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /is not the bundle this stack built/);
    assert.match(
      r.stderr,
      new RegExp(`device service bundle \\(sha256 ${BUNDLE_SHA256}\\) is not in .*pulumi up copies it there`),
    );
    assert.deepEqual(fr.tree(), before, "nothing was changed");
  });

  it("refuses a missing copy with the fix, and keeps an installed bundle that is already the right one", () => {
    const fr = fakeRoot({ node: true });
    rmSync(join(fr.staged, "device.js"));
    const missing = fr.run(install, payload());
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /pulumi up --replace/);
    mkdirSync(join(fr.root, "opt/diy-device"), { recursive: true });
    writeFileSync(join(fr.root, "opt/diy-device/device.js"), BUNDLE);
    const r = fr.run(install, payload());
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(fr.root, "opt/diy-device/device.js"), "utf8"), BUNDLE);
  });

  it("runs the copied install script through its command line only when it is the rendered one", () => {
    const fr = fakeRoot({ node: true });
    const line = renderStagedInvocation(install, "diy-device-install", STAGED_DIR);
    const lint = spawnSync("shellcheck", ["--shell=sh", "-"], { input: `${line}\n`, encoding: "utf8" });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    writeFileSync(join(fr.staged, "install.sh"), `${install.replace('log "installed"', 'log "tampered"')}`);
    const tampered = fr.run(`exec sh -c ${shellQuote(line)}`, payload());
    assert.equal(tampered.status, 1);
    assert.match(tampered.stderr, /install\.sh is missing or not the script this stack rendered/);
    assert.ok(!existsSync(join(fr.root, "etc/diy-device")), "the tampered script did not run");
    writeFileSync(join(fr.staged, "install.sh"), install);
    const r = fr.run(`exec sh -c ${shellQuote(line)}`, payload());
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /installed/);
    assert.equal(readFileSync(join(fr.root, "etc/diy-device/device.key"), "utf8"), KEY);
    assert.equal(readFileSync(join(fr.root, "opt/diy-device/device.js"), "utf8"), BUNDLE);
  });
});

describe("bridge role on a fake root", () => {
  const bridgeInstall = piInstallScript({ gpiod: false, gpioGroup: false, bridge: true }, BUNDLE_SHA256);
  const bridgeFiles: DevicePayloadInput = {
    "bridge.conf": "# bridge conf\nlistener 1883 192.168.1.50\n",
    "bridge.acl": "# acl\npattern read devices/%u/out/+/set\n",
    "bridge.passwd": `ard1:${LAN_PASSWORD}\n`,
    "bridge.pem": BRIDGE_CERT,
    "bridge.key": BRIDGE_KEY,
  };

  it("installs mosquitto, the drop-in, key, ACL and hashed passwords readable by mosquitto only", () => {
    const fr = fakeRoot({ node: true });
    const r = fr.run(bridgeInstall, payload(bridgeFiles));
    assert.equal(r.status, 0, r.stderr);
    const calls = fr.calls();
    assert.ok(calls.some((c) => /install -y --no-install-recommends mosquitto$/.test(c)));
    const tree = fr.tree();
    assert.equal(tree.get("/etc/mosquitto/conf.d/diy-bridge.conf")?.content, bridgeFiles["bridge.conf"]);
    // The bridge connection's own identity, not the device service's (the cloud binds client id to CN).
    assert.equal(tree.get("/etc/mosquitto/diy-bridge/bridge.key")?.content, BRIDGE_KEY);
    assert.equal(tree.get("/etc/mosquitto/diy-bridge/bridge.pem")?.content, BRIDGE_CERT);
    assert.equal(tree.get("/etc/mosquitto/diy-bridge/bridge.key")?.mode, "640");
    assert.equal(chownOf(calls, "/etc/mosquitto/diy-bridge/bridge.key"), "root:mosquitto");
    assert.equal(chownOf(calls, "/etc/mosquitto/diy-bridge/passwd"), "root:mosquitto");
    const passwd = tree.get("/etc/mosquitto/diy-bridge/passwd")?.content ?? "";
    assert.match(passwd, /^ard1:\$\d+\$/m, "mosquitto_passwd hashed the password");
    assert.ok(!passwd.includes(LAN_PASSWORD));
    assert.ok(!calls.join("\n").includes(LAN_PASSWORD));
    assert.ok(calls.includes("systemctl restart mosquitto.service"));
  });

  it("dropping the bridge role removes its files and the mosquitto it installed", () => {
    const fr = fakeRoot({ node: true });
    assert.equal(fr.run(bridgeInstall, payload(bridgeFiles)).status, 0);
    assert.equal(fr.run(install, payload()).status, 0);
    assert.ok(!existsSync(join(fr.root, "etc/mosquitto/conf.d/diy-bridge.conf")));
    assert.ok(!existsSync(join(fr.root, "etc/mosquitto/diy-bridge")));
    assert.ok(fr.calls().some((c) => /purge -y --auto-remove mosquitto$/.test(c)));
  });

  it("refuses the bridge role without its files", () => {
    const fr = fakeRoot({ node: true, mosquitto: true });
    const r = fr.run(bridgeInstall, payload());
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bridge role: the payload has no bridge.conf/);
  });
});

describe("uninstall script on a fake root", () => {
  it("stops, disables and removes everything it installed, packages and user included", () => {
    const fr = fakeRoot();
    const bridgeInstall = piInstallScript({ gpiod: true, gpioGroup: true, bridge: true }, BUNDLE_SHA256);
    const files = {
      "udev.rules": udev,
      "bridge.conf": "listener 1883 10.0.0.2\n",
      "bridge.acl": "pattern read x\n",
      "bridge.passwd": "a:b\n",
      "bridge.pem": BRIDGE_CERT,
      "bridge.key": BRIDGE_KEY,
    };
    assert.equal(fr.run(bridgeInstall, payload(files)).status, 0);
    const before = fr.calls().length;
    const r = fr.run(uninstall, "");
    assert.equal(r.status, 0, r.stderr);
    const calls = fr.calls().slice(before);
    assert.equal(calls[0], "systemctl disable --now diy-device.service");
    for (const pkg of ["mosquitto", "gpiod", "nodejs"])
      assert.ok(
        calls.some((c) => c.endsWith(`purge -y --auto-remove ${pkg}`)),
        pkg,
      );
    assert.ok(calls.includes("userdel diy-device"));
    assert.ok(calls.includes("groupdel gpio"), "the gpio group the installer made goes too");
    const left = [...fr.tree().keys()].filter((k) => /diy/.test(k));
    assert.deepEqual(left, []);
    assert.ok(!readFileSync(join(fr.root, "etc/passwd"), "utf8").includes("diy-device"));
    assert.ok(!existsSync(fr.staged), "the copies in the SSH user's home go too");
  });

  it("leaves packages and groups that were there before the install", () => {
    const fr = fakeRoot({ node: true, gpioGroup: true });
    writeFileSync(join(fr.bin, "gpioset"), "#!/bin/bash\n", { mode: 0o755 });
    assert.equal(fr.run(install, payload()).status, 0);
    const before = fr.calls().length;
    assert.equal(fr.run(uninstall, "").status, 0);
    const calls = fr.calls().slice(before);
    assert.ok(!calls.some((c) => c.startsWith("apt-get") || c === "groupdel gpio"), calls.join("\n"));
  });

  it("is safe to run again and on a board that never had the service", () => {
    const fr = fakeRoot();
    assert.equal(fr.run(uninstall, "").status, 0);
    assert.equal(fr.run(uninstall, "").status, 0);
    assert.ok(!fr.calls().some((c) => /^(apt-get|userdel|groupdel)/.test(c)));
  });
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
