import assert from "node:assert/strict";
import { test } from "node:test";
import { HISTORY_MOUNT_UNIT } from "../../infra/render/history-volume";
import {
  renderDiyWebUnit,
  renderMosquittoDropIn,
  renderSystemdUnit,
  renderTimerUnit,
  unitFile,
} from "../../infra/render/systemd";

const unit = renderDiyWebUnit({ source: 'stack "dev"' });
const has = (text: string, line: string) =>
  assert.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"), line);

test("diy-web.service runs the bundle as the diy-web user with its config and secrets file", () => {
  assert.match(unit.split("\n")[0] ?? "", /infra\/render\/systemd\.ts/);
  has(unit, "User=diy-web");
  has(unit, "ExecStart=/usr/bin/node /opt/diy-web/web.js --config /etc/diy-web/config.json");
  has(unit, "EnvironmentFile=/etc/diy-web/secrets.env");
  has(unit, "Restart=always");
  has(unit, "WantedBy=multi-user.target");
});

test("diy-web.service is sandboxed: no new privileges, read-only system, no home, private tmp", () => {
  for (const l of [
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "ReadOnlyPaths=/etc/diy-web /opt/diy-web",
  ]) {
    has(unit, l);
  }
  assert.doesNotMatch(unit, /MemoryDenyWriteExecute/, "node's JIT needs writable+executable memory");
});

test("the mosquitto drop-in lifts the open-files limit", () => {
  const d = renderMosquittoDropIn({ limitNofile: 200000 });
  assert.match(d, /^\[Service\]\nLimitNOFILE=200000\n$/m);
  assert.throws(() => renderMosquittoDropIn({ limitNofile: 100 }), /limitNofile/);
});

test("the generic unit renderer keeps order and repeats, and refuses a newline in a value", () => {
  const text = renderSystemdUnit({
    sections: {
      Unit: [
        ["After", "a.service"],
        ["After", "b.service"],
      ],
      Service: [["ExecStart", "/bin/true"]],
    },
  });
  assert.match(text, /\[Unit\]\nAfter=a\.service\nAfter=b\.service\n\n\[Service\]\nExecStart=\/bin\/true\n/);
  assert.throws(
    () => renderSystemdUnit({ sections: { Service: [["ExecStart", "/bin/true\nUser=root"]] } }),
    /ExecStart/,
  );
});

test("diy-web.service may queue mail through postfix's sendmail despite NoNewPrivileges, unless told not to", () => {
  has(unit, "SupplementaryGroups=postdrop");
  has(unit, "ReadWritePaths=/var/spool/postfix/maildrop");
  const noMail = renderDiyWebUnit({ sendmail: false });
  assert.doesNotMatch(noMail, /postdrop|ReadWritePaths/);
});

test("a timer names the module that wrote it, keeps its schedule in order and is wanted by timers.target", () => {
  const t = renderTimerUnit({
    renderer: "infra/render/ddns.ts",
    description: "Refresh",
    schedule: { OnBootSec: "1min", OnUnitActiveSec: "1h" },
  });
  assert.match(t.split("\n")[0] ?? "", /^# Rendered by diy-device-cloud infra\/render\/ddns\.ts;/);
  assert.match(
    t,
    /\n\[Unit\]\nDescription=Refresh\n\n\[Timer\]\nOnBootSec=1min\nOnUnitActiveSec=1h\n\n\[Install\]\nWantedBy=timers\.target\n$/,
  );
});

test("a unit's path follows from its name, and only a unit name makes one", () => {
  assert.equal(unitFile("diy-web.service"), "/etc/systemd/system/diy-web.service");
  for (const bad of ["../x.service", "diy-web", "a b.timer", "/etc/passwd"])
    assert.throws(() => unitFile(bad), /unit name/);
});

test("a mount unit's escaped name makes its path too: the history volume's, where the push writes it", () => {
  assert.equal(HISTORY_MOUNT_UNIT, "var-lib-diy\\x2dweb.mount");
  assert.equal(unitFile(HISTORY_MOUNT_UNIT), "/etc/systemd/system/var-lib-diy\\x2dweb.mount");
  for (const bad of ["var/lib.mount", "x.mount/../y.service", "Var.mount"])
    assert.throws(() => unitFile(bad), /unit name/);
});

test("diy-web.service gives the app /run/diy-web for its socket and nginx's group to hand the socket to", () => {
  has(unit, "RuntimeDirectory=diy-web");
  // Others may pass through to the socket by name, not list the directory; the socket's mode decides.
  has(unit, "RuntimeDirectoryMode=0711");
  has(unit, "SupplementaryGroups=www-data");
  has(renderDiyWebUnit({ socketGroup: "nginx" }), "SupplementaryGroups=nginx");
});
