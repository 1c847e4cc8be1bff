// infra/render/history-volume.ts and its place in the server push: where the attached EBS volume shows up on the
// server, the mount unit on the web app's state directory, the oneshot before it, and diy-web.service requiring the
// mount. test/integration/history-volume.test.ts runs the same files through systemd-analyze, shellcheck, mke2fs
// and blkid.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  HISTORY_MOUNT_POINT,
  HISTORY_MOUNT_UNIT,
  HISTORY_PREPARE_UNIT,
  HISTORY_SCRIPT_PATH,
  historyDevicePath,
  renderHistoryMountUnit,
  renderHistoryPrepareUnit,
  systemdEscapePath,
} from "../../infra/render/history-volume";
import { renderServerFiles, renderServerPush, type ServerFilesInput } from "../../infra/render/server-files";
import { serverFilesInput } from "./server-files-fixture";

const base = serverFilesInput();
const VOLUME = "vol-0123456789abcdef0";
const withVolume: ServerFilesInput = {
  ...base,
  historyVolume: { volumeId: VOLUME, instanceType: "t3.micro", sizeGiB: 2 },
};

test("the volume is found by its id on Nitro types (NVMe serial) and as /dev/xvdf on Xen t2", () => {
  const nvme = "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0";
  assert.equal(historyDevicePath({ instanceType: "t3.micro", volumeId: VOLUME }), nvme);
  assert.equal(historyDevicePath({ instanceType: "t4g.micro", volumeId: VOLUME }), nvme);
  assert.equal(historyDevicePath({ instanceType: "t2.micro", volumeId: VOLUME }), "/dev/xvdf");
  assert.throws(
    () => historyDevicePath({ instanceType: "t3.micro", volumeId: "vol-1; reboot" }),
    /volumeId must be an EBS volume id like vol-0123456789abcdef0, got "vol-1; reboot"/,
  );
});

test("systemd's path escaping: the mount unit of /var/lib/diy-web is var-lib-diy\\x2dweb.mount", () => {
  assert.equal(HISTORY_MOUNT_UNIT, "var-lib-diy\\x2dweb.mount");
  assert.equal(systemdEscapePath("/"), "-");
  assert.equal(systemdEscapePath("//var//lib/"), "var-lib");
  assert.equal(systemdEscapePath("/dev/disk/by-id/a.b"), "dev-disk-by\\x2did-a.b");
  assert.equal(systemdEscapePath("/.hidden"), "\\x2ehidden");
  assert.throws(() => systemdEscapePath("/var/../etc"), /not normalized/);
});

test("property: escaped paths are made of unit-name characters only, and distinct paths stay distinct", () => {
  const part = fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((p) => p !== "." && p !== "..");
  fc.assert(
    fc.property(
      fc.array(part, { minLength: 1, maxLength: 4 }),
      fc.array(part, { minLength: 1, maxLength: 4 }),
      (a, b) => {
        const ea = systemdEscapePath(`/${a.join("/")}`);
        assert.match(ea, /^[A-Za-z0-9:_.\\-]+$/);
        if (a.join("/") !== b.join("/")) assert.notEqual(ea, systemdEscapePath(`/${b.join("/")}`));
      },
    ),
  );
});

test("the mount unit mounts the volume's ext4 on the state directory after the prepare unit, nofail, no [Install]", () => {
  const device = historyDevicePath({ instanceType: "t3.micro", volumeId: VOLUME });
  const unit = renderHistoryMountUnit({ device, volumeId: VOLUME, sizeGiB: 2 });
  assert.match(unit, new RegExp(`^What=${device}$`, "m"));
  assert.match(unit, /^Where=\/var\/lib\/diy-web$/m);
  assert.match(unit, /^Type=ext4$/m);
  assert.match(unit, /^Options=nofail,noatime,nodev,nosuid,noexec$/m);
  assert.match(unit, /^Requires=diy-history-volume\.service$/m);
  assert.match(unit, /^After=diy-history-volume\.service$/m);
  assert.doesNotMatch(unit, /\[Install\]/);
  assert.throws(
    () => renderHistoryMountUnit({ device: "/dev/sdf;rm", volumeId: VOLUME, sizeGiB: 2 }),
    /device must be a \/dev path/,
  );
});

test("the prepare unit is bound to the device and runs the script before the mount", () => {
  const device = "/dev/xvdf";
  const unit = renderHistoryPrepareUnit({ device, volumeId: VOLUME, sizeGiB: 2 });
  assert.match(unit, /^BindsTo=dev-xvdf\.device$/m);
  assert.match(unit, /^After=dev-xvdf\.device$/m);
  assert.match(unit, /^DefaultDependencies=no$/m);
  assert.match(unit, /^Before=shutdown\.target var-lib-diy\\x2dweb\.mount$/m);
  assert.match(unit, new RegExp(`^ExecStart=${HISTORY_SCRIPT_PATH} prepare /dev/xvdf /var/lib/diy-web$`, "m"));
  assert.match(unit, /^Type=oneshot$/m);
});

test("with a history volume the push installs the script and both units, and diy-web requires the mount", () => {
  const files = new Map(renderServerFiles(withVolume).map((f) => [f.path, f]));
  const web = files.get("/etc/systemd/system/diy-web.service");
  assert.match(web?.content ?? "", new RegExp(`^RequiresMountsFor=${HISTORY_MOUNT_POINT}$`, "m"));
  const script = files.get(HISTORY_SCRIPT_PATH);
  assert.deepEqual([script?.mode, script?.owner, script?.systemd], ["0755", "root", false]);
  for (const unit of [HISTORY_PREPARE_UNIT, HISTORY_MOUNT_UNIT]) {
    const f = files.get(`/etc/systemd/system/${unit}`);
    assert.ok(f, `missing ${unit}`);
    assert.deepEqual([f.mode, f.owner, f.systemd, f.services], ["0644", "root", true, ["diy-web"]]);
  }
  const { script: push } = renderServerPush(withVolume);
  // The unit's name carries a backslash: the push writes it in single quotes, so bash keeps it.
  assert.ok(push.includes("'/etc/systemd/system/var-lib-diy\\x2dweb.mount'"), "mount unit path not quoted");
  assert.match(
    push,
    /if ! \( \/usr\/local\/sbin\/diy-history-volume grow \/dev\/disk\/by-id\/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0 \/var\/lib\/diy-web \)/,
  );
});

test("without a history volume (local demo, fixtures) nothing of it is rendered and diy-web needs no mount", () => {
  const files = renderServerFiles(base);
  assert.equal(
    files.some((f) => f.path.includes("history")),
    false,
  );
  const web = files.find((f) => f.path === "/etc/systemd/system/diy-web.service");
  assert.doesNotMatch(web?.content ?? "", /RequiresMountsFor/);
  assert.doesNotMatch(renderServerPush(base).script, /diy-history-volume/);
});
