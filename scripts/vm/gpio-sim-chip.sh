#!/bin/sh
# Gives a test VM a Raspberry Pi-like GPIO chip: a gpio-sim chip (module built into the image by
# build-image.sh) with 28 lines named GPIO0..GPIO27 like the Pi's header bank, created through configfs
# as the kernel's Documentation/admin-guide/gpio/gpio-sim.rst describes. Idempotent. Run as root.
# Prints "<chip> <device>" (e.g. "gpiochip0 gpio-sim.0"): a line's simulated state is then at
# /sys/devices/platform/<device>/<chip>/sim_gpio<offset>/{value,pull}.
set -eu
modprobe gpio-sim
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
dev=/sys/kernel/config/gpio-sim/diy-pi
if [ ! -d "$dev" ]; then
  mkdir "$dev" "$dev/gpio-bank0"
  echo 28 >"$dev/gpio-bank0/num_lines"
  n=0
  while [ "$n" -lt 28 ]; do
    mkdir "$dev/gpio-bank0/line$n"
    echo "GPIO$n" >"$dev/gpio-bank0/line$n/name"
    n=$((n + 1))
  done
fi
[ "$(cat "$dev/live")" = 1 ] || echo 1 >"$dev/live"
echo "$(cat "$dev/gpio-bank0/chip_name") $(cat "$dev/dev_name")"
