// /etc/udev/rules.d/99-diy-device.rules: lets the unprivileged service user drive exactly the
// kernel LEDs its config names (brightness and trigger are root-only by default) and, where GPIO
// backends are used, the gpiochip character devices through the gpio group (Debian leaves them
// root-only; Raspberry Pi OS already has an equivalent rule, so repeating it there is harmless).
import { DEVICE_USER } from "./device-paths";
import { DEFAULT_SOURCE, header, lines } from "./text";

export interface DeviceUdevInput {
  kernelLeds: readonly string[];
  gpioGroup: boolean;
  source?: string;
}

const LED_NAME = /^[A-Za-z0-9_:.+-]+$/;

/** undefined when nothing needs a rule: the installer then removes any earlier rule file. */
export function renderDeviceUdevRules(input: DeviceUdevInput): string | undefined {
  if (input.kernelLeds.length === 0 && !input.gpioGroup) return undefined;
  const out = [...header("#", "infra/render/device-udev.ts", input.source ?? DEFAULT_SOURCE)];
  for (const led of input.kernelLeds) {
    if (!LED_NAME.test(led))
      throw new Error(`kernel LED name ${JSON.stringify(led)} may hold only letters, digits and _ : . + -`);
    out.push(
      `SUBSYSTEM=="leds", KERNEL=="${led}", ACTION=="add|change", ` +
        `RUN+="/bin/chgrp ${DEVICE_USER} /sys%p/brightness /sys%p/trigger", RUN+="/bin/chmod g+w /sys%p/brightness /sys%p/trigger"`,
    );
  }
  if (input.gpioGroup) {
    out.push('SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"');
  }
  return lines(out);
}
