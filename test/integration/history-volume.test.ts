// The history volume's files on the server, read by the real programs: systemd-analyze verify on the mount unit,
// the prepare unit and diy-web.service together; systemd-escape for the unit name; shellcheck on the script; and
// the script itself run by bash against file images standing in for the EBS volume, with Debian's mke2fs, blkid,
// e2fsck and resize2fs (e2fsprogs, util-linux): a blank volume gets a file system seeded with what the directory
// held, an ext4 volume (a restored snapshot) keeps its data, anything else is refused untouched, a grown volume
// grows its file system. No root needed: images are regular files, never mounted.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  HISTORY_FS_LABEL,
  HISTORY_MOUNT_UNIT,
  HISTORY_PREPARE_UNIT,
  HISTORY_SCRIPT_PATH,
  renderHistoryVolumeScript,
  systemdEscapePath,
} from "../../infra/render/history-volume";
import { historyVolumeFiles } from "../../infra/render/server-files";
import { renderDiyWebUnit } from "../../infra/render/systemd";
import { tempDir } from "../support/temp-dir";
import { run } from "../support/daemon";

const tmp = tempDir("history-volume");
after(() => tmp.cleanup());
const VOLUME = "vol-0123456789abcdef0";

describe("the history volume's units under systemd-analyze verify", () => {
  const dir = join(tmp.dir, "units");
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "diy-history-volume");
  const { files } = historyVolumeFiles("test", { volumeId: VOLUME, instanceType: "t3.micro", sizeGiB: 2 });
  for (const f of files) {
    // The prepare unit names the script's place on the server; here it lives in the scratch directory.
    const content = f.content.replaceAll(HISTORY_SCRIPT_PATH, script);
    writeFileSync(f.path === HISTORY_SCRIPT_PATH ? script : join(dir, f.path.split("/").pop() as string), content);
  }
  chmodSync(script, 0o755);
  let web = renderDiyWebUnit({ source: "test", requiresMountsFor: ["/var/lib/diy-web"] });
  if (!existsSync("/usr/bin/node")) web = web.replace("/usr/bin/node", process.execPath);
  writeFileSync(join(dir, "diy-web.service"), web);

  test("the mount unit, the prepare unit and diy-web.service verify without a warning", () => {
    const res = run("systemd-analyze", [
      "verify",
      join(dir, HISTORY_MOUNT_UNIT),
      join(dir, HISTORY_PREPARE_UNIT),
      join(dir, "diy-web.service"),
    ]);
    assert.equal(res.status, 0, `systemd-analyze verify:\n${res.output}`);
    assert.equal(res.output.trim(), "", `systemd-analyze verify:\n${res.output}`);
  });

  test("systemd refuses the mount unit under any other name: Where= must match it", () => {
    const wrong = join(dir, "var-lib-diy-web.mount");
    writeFileSync(wrong, readFileSync(join(dir, HISTORY_MOUNT_UNIT)));
    const res = run("systemd-analyze", ["verify", wrong]);
    assert.notEqual(res.status, 0);
    assert.match(res.output, /Where= setting doesn't match unit name/);
  });

  test("systemdEscapePath agrees with systemd-escape --path", () => {
    for (const p of [
      "/var/lib/diy-web",
      "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123",
      "/dev/xvdf",
      "/a b/ü.c",
      "/.x/y",
    ]) {
      const res = run("systemd-escape", ["--path", p]);
      assert.equal(res.status, 0, res.output);
      assert.equal(systemdEscapePath(p), res.output.trim(), p);
    }
  });

  test("shellcheck finds nothing in the script", () => {
    const res = run("shellcheck", ["--severity=style", script]);
    assert.equal(res.status, 0, `shellcheck:\n${res.output}`);
  });
});

describe("diy-history-volume prepare on file images standing in for the EBS volume", () => {
  const dir = join(tmp.dir, "images");
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "diy-history-volume");
  writeFileSync(script, renderHistoryVolumeScript({ source: "test" }));
  chmodSync(script, 0o755);
  const MiB = 1024 * 1024;

  const image = (name: string, bytes: number) => {
    const path = join(dir, name);
    writeFileSync(path, "");
    const res = run("truncate", ["-s", String(bytes), path]);
    assert.equal(res.status, 0, res.output);
    return path;
  };
  const seed = (name: string, files: Record<string, string>) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    for (const [f, content] of Object.entries(files)) writeFileSync(join(path, f), content);
    return path;
  };
  const prepare = (dev: string, mountPoint: string) => run(script, ["prepare", dev, mountPoint]);
  const probe = (dev: string) =>
    Object.fromEntries(
      run("blkid", ["-p", "-o", "export", dev])
        .output.trim()
        .split("\n")
        .map((l) => l.split("=", 2) as [string, string]),
    );
  // debugfs prints its banner on stderr: the file's bytes are stdout alone.
  const catFile = (dev: string, path: string) =>
    spawnSync("debugfs", ["-R", `cat ${path}`, dev], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).stdout;
  const fsBytes = (dev: string) => {
    const out = run("dumpe2fs", ["-h", dev]).output;
    return Number(/^Block count:\s+(\d+)/m.exec(out)?.[1]) * Number(/^Block size:\s+(\d+)/m.exec(out)?.[1]);
  };
  const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

  test("a blank volume gets an ext4 file system labelled diy-history, holding what the directory had", () => {
    const dev = image("blank.img", 64 * MiB);
    const res = prepare(dev, seed("seed-a", { "history.db": "readings from the root disk\n" }));
    assert.equal(res.status, 0, res.output);
    assert.match(res.output, /made an ext4 file system labelled diy-history/);
    const p = probe(dev);
    assert.deepEqual([p.TYPE, p.LABEL], ["ext4", HISTORY_FS_LABEL]);
    assert.equal(catFile(dev, "/history.db").trim(), "readings from the root disk");
  });

  test("a blank volume with nothing to carry over gets an empty file system", () => {
    const dev = image("blank-empty.img", 32 * MiB);
    const res = prepare(dev, join(dir, "no-such-dir"));
    assert.equal(res.status, 0, res.output);
    assert.equal(probe(dev).TYPE, "ext4");
    assert.doesNotMatch(res.output, /copying/);
  });

  test("an ext4 volume (a restored snapshot, a re-attached volume) is never formatted again: its data stays", () => {
    const dev = image("restored.img", 64 * MiB);
    const first = prepare(dev, seed("seed-b", { "history.db": "a year of readings\n" }));
    assert.equal(first.status, 0, first.output);
    const uuid = probe(dev).UUID;
    // A new server: its root disk's directory holds something else, which must not replace the volume's data.
    const again = prepare(dev, seed("seed-c", { "history.db": "empty new server\n" }));
    assert.equal(again.status, 0, again.output);
    assert.doesNotMatch(again.output, /made an ext4/);
    assert.equal(probe(dev).UUID, uuid, "the file system was made again");
    assert.equal(catFile(dev, "/history.db").trim(), "a year of readings");
  });

  test("a volume made larger (historyVolumeGiB raised) gets its file system grown to the new size", () => {
    const dev = image("grown.img", 64 * MiB);
    assert.equal(prepare(dev, join(dir, "none")).status, 0);
    assert.equal(fsBytes(dev), 64 * MiB);
    assert.equal(run("truncate", ["-s", String(96 * MiB), dev]).status, 0);
    const res = prepare(dev, join(dir, "none"));
    assert.equal(res.status, 0, res.output);
    assert.match(res.output, /growing the file system/);
    assert.equal(fsBytes(dev), 96 * MiB);
  });

  test("a volume holding another file system or a partition table is refused and left byte for byte as it was", () => {
    const vfat = image("vfat.img", 32 * MiB);
    assert.equal(run("mkfs.vfat", [vfat]).status, 0);
    const gpt = image("gpt.img", 32 * MiB);
    const part = run("sh", ["-c", `echo 'label: gpt' | sfdisk -q '${gpt}'`]);
    assert.equal(part.status, 0, part.output);
    for (const [dev, what] of [
      [vfat, /TYPE=vfat/],
      [gpt, /PTTYPE=gpt/],
    ] as const) {
      const before = sha(dev);
      const res = prepare(dev, seed("seed-d", { "history.db": "x\n" }));
      assert.notEqual(res.status, 0, res.output);
      assert.match(res.output, /not an ext4 file system; it is left untouched/);
      assert.match(res.output, what);
      assert.equal(sha(dev), before, `${dev} changed`);
    }
  });

  test("a damaged file system is not mounted: e2fsck's failure stops the prepare step with the way out", () => {
    const dev = image("damaged.img", 32 * MiB);
    assert.equal(prepare(dev, join(dir, "none")).status, 0);
    // Zero the block group descriptors (the block after the 1 KiB superblock of a 1 KiB-block file system) and
    // the backup superblocks' area: e2fsck -p cannot repair that on its own.
    const zero = run("sh", ["-c", `dd if=/dev/zero of='${dev}' bs=1024 seek=2 count=64 conv=notrunc status=none`]);
    assert.equal(zero.status, 0, zero.output);
    const res = prepare(dev, join(dir, "none"));
    assert.notEqual(res.status, 0, res.output);
    assert.match(res.output, /left errors .*not mounting; repair it by hand or restore a snapshot/);
  });

  test("a missing device (volume not attached) fails with what to do, and bad usage is refused", () => {
    const res = prepare(join(dir, "absent"), join(dir, "none"));
    assert.notEqual(res.status, 0);
    assert.match(res.output, /does not exist: the history volume is not attached \(pulumi up attaches it\)/);
    assert.match(run(script, ["format", "/dev/null"]).output, /usage: .* prepare\|grow DEVICE MOUNT_POINT/);
  });

  test("grow leaves an unmounted volume to its next mount", () => {
    const dev = image("unmounted.img", 32 * MiB);
    const res = run(script, ["grow", dev, join(dir, "none")]);
    assert.equal(res.status, 0, res.output);
    assert.match(res.output, /is not mounted on .*: it grows at its next mount/);
  });
});
