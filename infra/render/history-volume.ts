// The server side of the history's own EBS volume (infra/history-storage.ts): a mount unit that puts the volume
// on /var/lib/diy-web, a oneshot service before it that checks the file system, makes one only on a blank volume
// and grows it to the volume's size, and the script that service runs. diy-web.service gets RequiresMountsFor on
// that directory (infra/render/systemd.ts), so the app never starts on the root disk when the volume is missing.
import { DEFAULT_SOURCE, header, lines } from "./text";
import { renderSystemdUnit, SERVER_WEB_PATHS } from "./systemd";

/** The device name the attachment asks for: /dev/sd[f-p] is what EC2 recommends for EBS data volumes on Linux. */
export const HISTORY_DEVICE_NAME = "/dev/sdf";
/** The label of the file system the script makes (ext4 labels are at most 16 bytes). */
export const HISTORY_FS_LABEL = "diy-history";
export const HISTORY_SCRIPT_PATH = "/usr/local/sbin/diy-history-volume";
export const HISTORY_PREPARE_UNIT = "diy-history-volume.service";
/** Where the volume is mounted: the web app's state directory, which holds history.db. */
export const HISTORY_MOUNT_POINT = SERVER_WEB_PATHS.stateDir;

/**
 * `systemd-escape --path`: how systemd names the unit of a path (systemd.unit(5), "String Escaping for Inclusion in
 * Unit Names"): slashes become dashes after dropping the leading, trailing and duplicate ones, and every byte that
 * is not an ASCII letter, digit, ":", "_" or "." (or a "." at the start) becomes \xNN. "/" alone is "-".
 */
export function systemdEscapePath(path: string): string {
  const trimmed = path.split("/").filter((p) => p !== "");
  if (trimmed.length === 0) return "-";
  if (trimmed.some((p) => p === "." || p === "..")) throw new Error(`path ${JSON.stringify(path)} is not normalized`);
  return [...Buffer.from(trimmed.join("/"), "utf8")]
    .map((byte, i) => {
      const c = String.fromCharCode(byte);
      if (c === "/") return "-";
      if (/[A-Za-z0-9:_]/.test(c) || (c === "." && i > 0)) return c;
      return `\\x${byte.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

/** The mount unit's name, which systemd derives from the mount point (systemd.mount(5)). */
export const HISTORY_MOUNT_UNIT = `${systemdEscapePath(HISTORY_MOUNT_POINT)}.mount`;

const VOLUME_ID = /^vol-([0-9a-f]{8}|[0-9a-f]{17})$/;

/**
 * Where the attached volume appears on the server, whatever name the attachment asked for.
 * - Nitro instances (t3, t3a, t4g) expose EBS volumes as NVMe devices named in the order they are found
 *   (/dev/nvme1n1, ...), not by the requested device name; the NVMe serial number is the volume id without its
 *   hyphen (Amazon EBS User Guide, "Amazon EBS and NVMe": "the EBS volume ID ... vol01234567890abcdef" in the
 *   serial field), and systemd's udev rules (rules.d/60-persistent-storage.rules) link every NVMe disk as
 *   /dev/disk/by-id/nvme-$ID_MODEL_$ID_SERIAL_SHORT, spaces made underscores: the model is "Amazon Elastic Block
 *   Store". That name follows the volume, not the slot.
 * - Xen instances (t2) have no NVMe serial; the requested /dev/sdf appears as /dev/xvdf (Amazon EC2 User Guide,
 *   "Device names on Linux instances": "if you specify a device name of /dev/sdh, your device could be renamed
 *   /dev/xvdh").
 */
export function historyDevicePath(input: { instanceType: string; volumeId: string }): string {
  if (!VOLUME_ID.test(input.volumeId))
    throw new Error(
      `volumeId must be an EBS volume id like vol-0123456789abcdef0, got ${JSON.stringify(input.volumeId)}`,
    );
  if (input.instanceType.startsWith("t2.")) return `/dev/xvd${HISTORY_DEVICE_NAME.slice("/dev/sd".length)}`;
  return `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${input.volumeId.replace("-", "")}`;
}

export interface HistoryVolumeUnitInput {
  source?: string;
  /** historyDevicePath's answer. */
  device: string;
  volumeId: string;
  sizeGiB: number;
}

function devicePath(device: string): string {
  if (!/^\/dev\/[A-Za-z0-9_/.-]+$/.test(device))
    throw new Error(`device must be a /dev path, got ${JSON.stringify(device)}`);
  return device;
}

/**
 * /etc/systemd/system/var-lib-diy\x2dweb.mount. No [Install]: diy-web.service pulls it in (RequiresMountsFor), so a
 * missing volume fails the app, never the boot. `nofail` keeps the mount out of local-fs.target's ordering, which
 * would otherwise put it (and the oneshot before it) into a cycle with sysinit.target (systemd.mount(5), "Default
 * Dependencies").
 */
export function renderHistoryMountUnit(input: HistoryVolumeUnitInput): string {
  const device = devicePath(input.device);
  return renderSystemdUnit({
    source: input.source,
    sections: {
      Unit: [
        ["Description", `DIY Device Cloud history volume (EBS ${input.volumeId}, ${input.sizeGiB} GiB)`],
        ["Requires", HISTORY_PREPARE_UNIT],
        ["After", HISTORY_PREPARE_UNIT],
      ],
      Mount: [
        ["What", device],
        ["Where", HISTORY_MOUNT_POINT],
        ["Type", "ext4"],
        ["Options", "nofail,noatime,nodev,nosuid,noexec"],
      ],
    },
  });
}

/**
 * /etc/systemd/system/diy-history-volume.service: runs before the mount, bound to the device (systemd waits for it
 * up to its default device timeout and then fails the mount). Shaped like the units systemd's fstab generator
 * writes for x-systemd.makefs (systemd-makefs@.service(8)): no default dependencies, ordered before the mount.
 */
export function renderHistoryPrepareUnit(input: HistoryVolumeUnitInput): string {
  const device = devicePath(input.device);
  const deviceUnit = `${systemdEscapePath(device)}.device`;
  return renderSystemdUnit({
    source: input.source,
    sections: {
      Unit: [
        ["Description", "DIY Device Cloud history volume: check, make a file system only on a blank volume, grow"],
        ["DefaultDependencies", "no"],
        ["BindsTo", deviceUnit],
        ["After", deviceUnit],
        ["Conflicts", "shutdown.target"],
        ["Before", `shutdown.target ${HISTORY_MOUNT_UNIT}`],
      ],
      Service: [
        ["Type", "oneshot"],
        ["RemainAfterExit", "yes"],
        ["ExecStart", `${HISTORY_SCRIPT_PATH} prepare ${device} ${HISTORY_MOUNT_POINT}`],
        // e2fsck and a first mkfs of a few GiB take seconds; a large volume's forced check before a grow longer.
        ["TimeoutStartSec", "30min"],
      ],
    },
  });
}

/** The push's last step after a change: grow a mounted file system to a volume that was made larger. */
export function historyGrowCommand(device: string): string {
  return `${HISTORY_SCRIPT_PATH} grow ${devicePath(device)} ${HISTORY_MOUNT_POINT}`;
}

/**
 * The script the prepare unit and the push run (/usr/local/sbin/diy-history-volume). It never formats a device
 * that holds anything blkid recognises (a file system or a partition table): a volume restored from a snapshot,
 * or one attached by hand, keeps its data; only a blank one gets a file system. That first file system is seeded
 * with what the mount point already holds on the root disk (mke2fs -d), so history written before the volume
 * existed moves onto it.
 */
export function renderHistoryVolumeScript(input: { source?: string } = {}): string {
  return lines([
    "#!/bin/bash",
    ...header("#", "infra/render/history-volume.ts", input.source ?? DEFAULT_SOURCE),
    "# Usage: diy-history-volume prepare DEVICE MOUNT_POINT   (before the mount: check, make, grow)",
    "#        diy-history-volume grow DEVICE MOUNT_POINT      (mounted: grow to the device's size)",
    HISTORY_SCRIPT_BODY,
  ]);
}

const HISTORY_SCRIPT_BODY = `set -euo pipefail
export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin

label=${HISTORY_FS_LABEL}

log() { printf 'diy-history-volume: %s\\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Bytes of the device (a regular file stands in for one in tests).
device_bytes() {
  if [[ -b "$1" ]]; then blockdev --getsize64 "$1"; else stat -L -c %s -- "$1"; fi
}

# Bytes the ext4 file system on the device spans (block count x block size from its superblock).
fs_bytes() {
  dumpe2fs -h -- "$1" 2>/dev/null | awk -F: '/^Block count:/ { c = $2 } /^Block size:/ { s = $2 } END { printf "%d", c * s }'
}

# e2fsck's exit code: 0 clean, 1 errors corrected, 2 corrected but the system should be rebooted (only matters for
# a mounted root file system), 4 and above: left uncorrected or failed (e2fsck(8)).
check() {
  local rc=0
  e2fsck "$@" || rc=$?
  (( rc < 4 )) || die "e2fsck $* left errors (exit $rc): not mounting; repair it by hand or restore a snapshot"
}

make_fs() {
  local dev=$1 seed=$2
  local -a from=()
  # What the mount point already holds on the root disk (history from before the volume) goes onto the volume.
  if [[ -d "$seed" ]] && ! mountpoint -q -- "$seed" && [[ -n "$(ls -A -- "$seed")" ]]; then
    from=(-d "$seed")
    log "copying the existing $seed into the new file system"
  fi
  # -m 0: the reserved blocks are for root, and only the service user writes here.
  mke2fs -q -t ext4 -L "$label" -m 0 "\${from[@]}" -- "$dev" </dev/null
  log "made an ext4 file system labelled $label on $dev"
}

prepare() {
  local dev=$1 seed=$2
  [[ -e "$dev" ]] || die "$dev does not exist: the history volume is not attached (pulumi up attaches it)"
  local probe rc=0
  # blkid -p probes the device itself for file system and partition table signatures; exit 2: none (blkid(8)).
  probe=$(blkid -p -o export -- "$dev") || rc=$?
  if (( rc == 2 )); then
    make_fs "$dev" "$seed"
  elif (( rc != 0 )); then
    die "blkid -p $dev failed (exit $rc)"
  else
    local type
    type=$(sed -n 's/^TYPE=//p' <<<"$probe")
    [[ "$type" == ext4 ]] || die "$dev holds $(tr '\\n' ' ' <<<"$probe")- not an ext4 file system; it is left untouched. Attach the right volume or restore a snapshot"
  fi
  check -p -- "$dev"
  local have want
  have=$(fs_bytes "$dev")
  want=$(device_bytes "$dev")
  if (( want > have )); then
    log "growing the file system on $dev from $have to $want bytes"
    check -f -p -- "$dev"
    resize2fs -- "$dev"
  fi
}

grow() {
  local dev=$1 where=$2
  # Online growth of the mounted file system, as the EBS guide's "Extend the file system" step does.
  if findmnt -rn -S "$dev" -T "$where" >/dev/null 2>&1; then
    resize2fs -- "$dev"
  else
    log "$dev is not mounted on $where: it grows at its next mount"
  fi
}

case "\${1:-}" in
  prepare) [[ $# -eq 3 ]] || die "usage: $0 prepare DEVICE MOUNT_POINT"; prepare "$2" "$3" ;;
  grow) [[ $# -eq 3 ]] || die "usage: $0 grow DEVICE MOUNT_POINT"; grow "$2" "$3" ;;
  *) die "usage: $0 prepare|grow DEVICE MOUNT_POINT" ;;
esac`;
