#!/usr/bin/env bash
# Builds a Debian base image the VM tier boots (test/vm), like a Debian EC2 AMI: cloud-init with the
# default user `admin`, openssh-server, nothing else of the project, plus the gpio-sim kernel module
# (built here for the image's own kernel: Debian's kernels leave CONFIG_GPIO_SIM off). Each test VM boots
# a qcow2 overlay on it, so the image is built once and cached OUTSIDE the repo, keyed by a hash of this
# recipe and the suite: a rerun with the same recipe prints the cached paths and exits at once.
#
#   scripts/vm/build-image.sh [SUITE]     build (or reuse) the image of SUITE: bookworm (Debian 12, the
#                                          default) or trixie (Debian 13); prints its directory last
#   VM_CACHE_DIR=/path                   cache root (default ~/.cache/diy-device-cloud/vm)
#   VM_MIRROR=http://...                 Debian mirror (default: the one this machine's apt uses)
#   VM_KEEP_FAILED=1                     keep the work directory of a failed build (for debugging)
#
# Output directory <cache>/<hash>/: base.qcow2 (root fs on /dev/vda, ext4), vmlinuz, initrd.img, recipe.txt.
# Needs root (debootstrap, chroot) and: debootstrap e2fsprogs qemu-utils (scripts/setup.sh test).
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/../.."
# shellcheck source=scripts/lib/debian-mirror.sh
. scripts/lib/debian-mirror.sh

SUITE="${1:-bookworm}"
case "$SUITE" in
  bookworm | trixie) ;;
  *) echo "build-image: suite must be bookworm or trixie, got '$SUITE'" >&2; exit 2 ;;
esac
IMAGE_SIZE=4G
# Packages on top of minbase: what a Debian cloud image has that the tests rely on.
#   python3-cffi-backend: cloud-init needs it but does not depend on it in minbase
#   dbus: systemctl for non-root users; python3-systemd: fail2ban's systemd backend
#   ifupdown + isc-dhcp-client: cloud-init's fallback networking (DHCP on the NIC)
#   e2fsprogs: resize2fs for cloud-init's resizefs (trixie's minbase no longer has it; an AMI does)
#   kmod: modprobe for gpio-sim
PACKAGES=(
  linux-image-amd64 systemd-sysv dbus cloud-init python3-cffi-backend python3-systemd
  openssh-server sudo ca-certificates locales ifupdown isc-dhcp-client e2fsprogs kmod
)
log() { printf '[build-image %s %s] %s\n' "$SUITE" "$(date -u +%H:%M:%S)" "$*"; }

MIRROR=$(debian_mirror)
SECURITY_MIRROR="${MIRROR%/debian}/debian-security"
CACHE_ROOT="${VM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diy-device-cloud/vm}"

# The recipe: everything that decides what is in the image. Its text (declare -f) keys the cache, so
# editing it builds a new image while edits elsewhere in this script reuse the cached one.
build() {
  start=$(date +%s)
  log "debootstrap --variant=minbase $SUITE from $MIRROR into $ROOT (a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 &
  ds=$!
  while kill -0 "$ds" 2>/dev/null; do
    sleep 15
    kill -0 "$ds" 2>/dev/null && log "debootstrap: $(grep -E '^I: ' "$WORK/debootstrap.log" | tail -1 | cut -c1-100)"
  done
  if ! wait "$ds"; then tail -30 "$WORK/debootstrap.log" >&2; exit 1; fi
  log "debootstrap done after $(( $(date +%s) - start )) s"

  cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  # No daemon may start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  mount -t proc proc "$ROOT/proc"
  mount -t sysfs sys "$ROOT/sys"
  mount --bind /dev "$ROOT/dev"
  mount --bind /dev/pts "$ROOT/dev/pts"

  log "installing ${PACKAGES[*]}"
  echo "locales locales/locales_to_be_generated multiselect en_US.UTF-8 UTF-8" | chroot "$ROOT" debconf-set-selections
  echo "locales locales/default_environment_locale select en_US.UTF-8" | chroot "$ROOT" debconf-set-selections
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Acquire::Retries=3 update -qq >"$WORK/apt.log" 2>&1
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Acquire::Retries=3 install -y -q --no-install-recommends \
    "${PACKAGES[@]}" >>"$WORK/apt.log" 2>&1 &
  ap=$!
  while kill -0 "$ap" 2>/dev/null; do
    sleep 15
    kill -0 "$ap" 2>/dev/null && log "apt: $(grep -E '^(Get|Unpacking|Setting up)' "$WORK/apt.log" | tail -1 | cut -c1-100)"
  done
  if ! wait "$ap"; then tail -40 "$WORK/apt.log" >&2; exit 1; fi
  log "packages installed after $(( $(date +%s) - start )) s"

  build_gpio_sim

  # Locale (the package's postinst generates what /etc/locale.gen lists).
  sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$ROOT/etc/locale.gen"
  chroot "$ROOT" locale-gen >/dev/null
  echo 'LANG=en_US.UTF-8' >"$ROOT/etc/default/locale"

  # Root file system and first-boot identity.
  echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$ROOT/etc/fstab"
  echo 'debian' >"$ROOT/etc/hostname"
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
  : >"$ROOT/etc/machine-id"
  rm -f "$ROOT/var/lib/dbus/machine-id"
  rm -f "$ROOT"/etc/ssh/ssh_host_*   # cloud-init generates the host keys on first boot
  passwd -R "$ROOT" -l root >/dev/null
  # ifupdown reads the file cloud-init writes to interfaces.d.
  printf 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n' >"$ROOT/etc/network/interfaces"

  # cloud-init: only NoCloud (no probing for EC2/OpenStack metadata that is not there) and the default
  # user of the Debian EC2 AMIs, `admin`, key-only with passwordless sudo.
  cat >"$ROOT/etc/cloud/cloud.cfg.d/90-diy-vm.cfg" <<'EOF'
# Written by scripts/vm/build-image.sh: behave like a Debian EC2 AMI, seeded by NoCloud.
datasource_list: [ NoCloud, None ]
system_info:
  default_user:
    name: admin
    lock_passwd: true
    gecos: Debian
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
EOF

  rm -f "$ROOT/usr/sbin/policy-rc.d"
  chroot "$ROOT" apt-get clean
  rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log "$ROOT"/var/cache/debconf/*-old

  # The image's own kernel and initrd, for direct kernel boot (no bootloader needed).
  kernel=$(find "$ROOT/boot" -name 'vmlinuz-*' | sort -V | tail -1)
  initrd=$(find "$ROOT/boot" -name 'initrd.img-*' | sort -V | tail -1)
  mkdir -p "$WORK/out"
  cp "$kernel" "$WORK/out/vmlinuz"
  cp "$initrd" "$WORK/out/initrd.img"

  for m in dev/pts dev sys proc; do umount -l "$ROOT/$m"; done
  log "mkfs.ext4 -d ($IMAGE_SIZE, sparse) and qcow2"
  truncate -s "$IMAGE_SIZE" "$WORK/root.raw"
  mkfs.ext4 -q -F -L root -d "$ROOT" "$WORK/root.raw"
  qemu-img convert -O qcow2 "$WORK/root.raw" "$WORK/out/base.qcow2"
  rm -f "$WORK/root.raw"
  { echo "suite=$SUITE mirror=$MIRROR built=$(date -u +%FT%TZ)"; printf '%s\n' "${PACKAGES[@]}"; } >"$WORK/out/recipe.txt"

}

# gpio-sim for the image's kernel. Debian 12 (6.1) and 13 (6.12) build neither CONFIG_GPIO_SIM nor the
# CONFIG_IRQ_SIM it selects (a hidden option: absent from their configs), so both sources go into one
# out-of-tree module: drivers/gpio/gpio-sim.c (+ gpiolib.h, which 6.1's includes) and kernel/irq/irq_sim.c,
# taken from Debian's linux-source package of exactly the kernel's version and built against its
# linux-headers package. CONFIG_CONFIGFS_FS=m provides the configfs it is driven through. The compiler,
# headers and source are removed again: the image stays what a board has.
build_gpio_sim() {
  local kver kpkg version mm src mod=/usr/src/diy-gpio-sim
  kver=$(basename "$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -1)")
  kpkg="linux-image-$kver"
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's field, not the shell's
  version=$(chroot "$ROOT" dpkg-query -W -f='${Version}' "$kpkg")
  mm=$(echo "$version" | cut -d. -f1,2)
  log "gpio-sim: kernel $kver ($version): installing linux-headers-$kver and linux-source-$mm $version"
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Acquire::Retries=3 install -y -q \
    --no-install-recommends "linux-headers-$kver=$version" "linux-source-$mm=$version" make >>"$WORK/apt.log" 2>&1 ||
    { tail -30 "$WORK/apt.log" >&2; exit 1; }
  src="linux-source-$mm"
  mkdir -p "$ROOT$mod"
  tar -xJf "$ROOT/usr/src/$src.tar.xz" -C "$ROOT$mod" --strip-components=3 \
    "$src/drivers/gpio/gpio-sim.c" "$src/drivers/gpio/gpiolib.h"
  tar -xJf "$ROOT/usr/src/$src.tar.xz" -C "$ROOT$mod" --strip-components=3 "$src/kernel/irq/irq_sim.c"
  mv "$ROOT$mod/gpio-sim.c" "$ROOT$mod/gpio_sim_main.c"
  # irq_sim's irq_work handler calls handle_simple_irq(irq_to_desc(irq)); irq_to_desc is not exported to
  # modules. generic_handle_irq(irq) is, and runs the same handler (irq_sim installs handle_simple_irq).
  sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$ROOT$mod/irq_sim.c"
  grep -q 'generic_handle_irq(irqnum);' "$ROOT$mod/irq_sim.c" ||
    { echo "build-image: irq_sim.c changed upstream: irq_to_desc call not found" >&2; exit 1; }
  printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio_sim_main.o irq_sim.o\n' >"$ROOT$mod/Kbuild"
  log "gpio-sim: building against /lib/modules/$kver/build"
  chroot "$ROOT" make -C "/lib/modules/$kver/build" M="$mod" modules >"$WORK/gpio-sim-build.log" 2>&1 ||
    { tail -40 "$WORK/gpio-sim-build.log" >&2; exit 1; }
  install -D -m 0644 "$ROOT$mod/gpio-sim.ko" "$ROOT/lib/modules/$kver/updates/gpio-sim.ko"
  chroot "$ROOT" depmod -a "$kver"
  chroot "$ROOT" modinfo -F depends "/lib/modules/$kver/updates/gpio-sim.ko" | grep -qw configfs ||
    { echo "build-image: gpio-sim.ko does not depend on configfs?" >&2; exit 1; }
  rm -rf "$ROOT$mod"
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get purge -y -q --auto-remove \
    "linux-headers-$kver" "linux-source-$mm" make >>"$WORK/apt.log" 2>&1
  log "gpio-sim: /lib/modules/$kver/updates/gpio-sim.ko"
}

HASH=$( { declare -f build build_gpio_sim; echo "$SUITE $IMAGE_SIZE $MIRROR ${PACKAGES[*]}"; } | sha256sum | cut -c1-16)
OUT="$CACHE_ROOT/$HASH"

if [ -f "$OUT/base.qcow2" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
  log "cached image: $OUT"
  echo "$OUT"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  # debootstrap and chroot need root; keep this user's cache directory.
  command -v sudo >/dev/null || { echo "build-image: needs root (debootstrap, chroot)" >&2; exit 1; }
  log "not root: running the build through sudo"
  exec sudo VM_CACHE_DIR="$CACHE_ROOT" VM_MIRROR="$MIRROR" VM_KEEP_FAILED="${VM_KEEP_FAILED:-}" bash "$SELF" "$SUITE"
fi
for tool in debootstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "build-image: missing $tool (run scripts/setup.sh test)" >&2; exit 1; }
done

mkdir -p "$CACHE_ROOT"
# One builder at a time per recipe (parallel test runs share the cache).
exec 9>"$CACHE_ROOT/$HASH.lock"
log "waiting for the build lock"
flock 9
if [ -f "$OUT/base.qcow2" ]; then log "built meanwhile: $OUT"; echo "$OUT"; exit 0; fi

WORK=$(mktemp -d "$CACHE_ROOT/build.XXXXXX")
ROOT="$WORK/rootfs"
cleanup() {
  local m rc=$?
  for m in dev/pts dev sys proc; do
    if mountpoint -q "$ROOT/$m" 2>/dev/null; then umount -l "$ROOT/$m"; fi
  done
  if [ "$rc" -ne 0 ] && [ -n "${VM_KEEP_FAILED:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

build

rm -rf "$OUT"
mv "$WORK/out" "$OUT"
log "image ready after $(( $(date +%s) - start )) s: $OUT ($(du -sh "$OUT/base.qcow2" | cut -f1))"
echo "$OUT"
