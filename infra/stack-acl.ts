// The stack's MQTT identities and what each may do, decided from the settings once: the devices with exactly their
// configured names, the bridges and their children, Home Assistant's view, the revoked devices. mosquitto's acl_file
// (server-input.ts), AWS IoT Core's policies (infra/iot-core.ts) and the config's IoT Core quota checks
// (config/iot-core.ts) all read this one model. Pure, and free of infra/config.ts at run time, so the config may use it.
import type { WebDeviceConfigInput } from "../apps/web/config";
import { type AclDevice, type AclModel, type AclStack, aclModel } from "../protocol";
import type { DeviceSettings, Settings } from "./config/schema";

/** A device entry of the web config (apps/web/config.ts), its outputs and inputs always written out. */
export type WebDeviceEntry = WebDeviceConfigInput & { outputs: string[]; inputs: string[] };

/** Devices the web page shows: every configured device with I/O or sensors, and every bridge child. */
export function webDevices(
  devices: readonly Pick<DeviceSettings, "id" | "outputs" | "inputs" | "sensors" | "bridge">[],
): WebDeviceEntry[] {
  return devices.flatMap((d) => [
    ...(d.outputs.length + d.inputs.length + (d.sensors?.length ?? 0) > 0
      ? [
          {
            id: d.id,
            outputs: d.outputs.map((o) => o.name),
            inputs: d.inputs.map((i) => i.name),
            ...(d.sensors?.length
              ? { sensors: d.sensors.map((x) => ({ name: x.name, ...(x.alert ? { alert: x.alert } : {}) })) }
              : {}),
          },
        ]
      : []),
    ...(d.bridge?.children ?? []).map((c) => ({ id: c.id, outputs: [...c.outputs], inputs: [...c.inputs] })),
  ]);
}

/** What Home Assistant sees, for the broker ACL: the page's devices with their names. */
export function homeAssistantAclDevices(devices: readonly DeviceSettings[]): AclDevice[] {
  return webDevices(devices).map((d) => ({
    id: d.id,
    outputs: d.outputs,
    inputs: d.inputs,
    sensors: (d.sensors ?? []).map((x) => x.name),
  }));
}

/** Bridges and their children (ids and names), for the broker ACL and the bridge identities. */
export function bridgesOf(devices: readonly DeviceSettings[]): NonNullable<AclStack["bridges"]> {
  return devices.flatMap((d) =>
    d.bridge
      ? [{ id: d.id, children: d.bridge.children.map((c) => ({ id: c.id, outputs: c.outputs, inputs: c.inputs })) }]
      : [],
  );
}

/**
 * The broker ACL's view of the stack: every device with exactly its configured names, the bridges, and
 * the revoked devices (denied by name: a rotation cannot give a stolen certificate its rights back).
 */
export function aclStack(devices: readonly DeviceSettings[], revoked: readonly string[] = []): AclStack {
  return {
    revoked,
    devices: devices.map((d) => ({
      id: d.id,
      outputs: d.outputs.map((o) => o.name),
      inputs: d.inputs.map((i) => i.name),
      sensors: (d.sensors ?? []).map((x) => x.name),
    })),
    bridges: bridgesOf(devices),
  };
}

/** The broker ACL model of a stack: protocol's aclModel of the devices, bridges, revocations and Home Assistant. */
export function stackAclModel(s: Pick<Settings, "devices" | "revokedDevices" | "integrations">): AclModel {
  return aclModel({
    ...aclStack(s.devices, s.revokedDevices),
    ...(s.integrations.homeAssistant ? { homeAssistant: homeAssistantAclDevices(s.devices) } : {}),
  });
}
