// diy-device.service: runs the bundled device service as its own unprivileged user, restarts it
// forever, and hardens it only as far as GPIO lines and kernel LEDs keep working.
import { isDeviceId } from "../../protocol";
import { DEVICE_PATHS, DEVICE_USER } from "./device-paths";
import { absPath, headedFiles } from "./text";

const file = headedFiles("#", "infra/render/device-unit.ts");

export interface DeviceUnitInput {
  deviceId: string;
  /** Which stack/setting produced the unit, written in the header. */
  source?: string;
  /** Debian's nodejs package installs /usr/bin/node. */
  nodePath?: string;
  restartSec?: number;
}

export function renderDeviceUnit(input: DeviceUnitInput): string {
  if (!isDeviceId(input.deviceId))
    throw new Error(`deviceId ${JSON.stringify(input.deviceId)} is not a valid device id`);
  const node = absPath("nodePath", input.nodePath ?? "/usr/bin/node");
  const restartSec = input.restartSec ?? 2;
  if (!Number.isInteger(restartSec) || restartSec < 1)
    throw new Error(`restartSec must be a whole number >= 1, got ${restartSec}`);
  return file(input.source, [
    "",
    "[Unit]",
    `Description=DIY Device Cloud device service (${input.deviceId})`,
    "Wants=network-online.target",
    "After=network-online.target",
    "# A board that boots before its Wi-Fi is up must keep trying, never land in the failed state.",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=simple",
    `User=${DEVICE_USER}`,
    `Group=${DEVICE_USER}`,
    "# The gpio group (where the OS has it) is given to the user by the installer, not with",
    "# SupplementaryGroups=: that would fail the unit on a board without the group.",
    `ExecStart=${node} ${DEVICE_PATHS.bundle} --config ${DEVICE_PATHS.config}`,
    "Restart=always",
    `RestartSec=${restartSec}`,
    "StateDirectory=diy-device",
    "StateDirectoryMode=0750",
    "UMask=0027",
    "",
    "# Hardening",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "# The LED class and legacy GPIO trees are written to; '-' tolerates kernels without them.",
    `ReadWritePaths=-/sys/class/leds -/sys/class/gpio ${DEVICE_PATHS.stateDir}`,
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "# Deliberately absent: PrivateDevices= (a private /dev has no /dev/gpiochip*, which libgpiod",
    "# needs), ProtectKernelTunables= (it makes /sys read-only and breaks /sys/class/leds and",
    "# /sys/class/gpio) and ProtectClock= (it implies a DeviceAllow= list that shuts out gpiochip).",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectHostname=yes",
    "RestrictSUIDSGID=yes",
    "RestrictRealtime=yes",
    "RestrictNamespaces=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
  ]);
}
