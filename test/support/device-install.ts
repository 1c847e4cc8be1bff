// Device pi1's install script as the plan renders it, for a role: the unit tests read it, the integration tier
// runs it on a fake root.
import { type DeviceInstallScriptInput, renderDeviceInstallScript } from "../../infra/render/device-install";

export type InstallRole = Pick<DeviceInstallScriptInput, "gpiod" | "gpioGroup" | "bridge">;

/** pi1's install script for `role`, installing only the bundle whose SHA-256 is `bundleSha256`. */
export function piInstallScript(role: InstallRole, bundleSha256: string): string {
  return renderDeviceInstallScript({ deviceId: "pi1", ...role, bundleSha256 });
}
