// One component per configured board: over SSH it installs the bundled device service with the
// board's own certificate and key (and, for a bridge, mosquitto with the LAN listener and the mTLS
// bridge), and uninstalls all of it when the device leaves the config or the stack is destroyed.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { localCopy } from "./bundle";
import type { DeviceSettings } from "./config";
import { devicePayload, type DevicePlan } from "./render/device-plan";
import { deviceIdentities, renderDevicePlan } from "./render-stack";

/**
 * The cloud broker as a board sees it: the stack's mosquitto at the domain or the Elastic IP, or AWS IoT Core's
 * endpoint, where the board's client id is its thing name (`<thingPrefix>:<id>`).
 */
export type DeviceBroker =
  | { kind?: "mosquitto"; host: pulumi.Input<string>; port: number }
  | { kind: "iot-core"; endpoint: pulumi.Input<string>; thingPrefix: string };

export interface DeviceArgs {
  device: DeviceSettings;
  /** The private SSH key that logs in to the board (stack config deviceSshPrivateKey; secret). */
  sshPrivateKey: pulumi.Input<string>;
  caCertPem: pulumi.Input<string>;
  /** The board's client identity (CN = device id) from infra/pki.ts. */
  identity: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  /** Bridge boards only: the identity of the bridge connection (infra/pki.ts `pki.bridges`). */
  bridgeIdentity?: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  /** Where the device (and a bridge) dials the cloud broker. */
  broker: DeviceBroker;
  /** The device service bundle: infra/bundle.ts `bundle("device").code`. */
  bundle: pulumi.Input<string>;
  /** Written into the header of every rendered file. */
  source?: string;
}

/** How the provisioner reaches the board (the install and the file copy share it). */
export function deviceConnection(args: DeviceArgs): command.types.input.remote.ConnectionArgs {
  const d = args.device;
  return {
    host: d.host,
    port: d.port,
    // Explicit: the provider's default is root, which a Raspberry Pi OS image does not let in.
    user: d.user,
    privateKey: pulumi.secret(args.sshPrivateKey),
    ...(d.hostKey === undefined ? {} : { hostKey: d.hostKey }),
    // A board may be slow to answer (Wi-Fi, SD card): keep dialling for about two minutes.
    dialErrorLimit: 8,
    perDialTimeout: 15,
  };
}

/**
 * The bundle and the install script, copied to the board's staging directory as local files: the state holds
 * each as a path and a hash (the provider copies again when the hash changes; it never deletes, the uninstall
 * removes them).
 */
export function stagedFilesArgs(args: DeviceArgs, plan: pulumi.Output<DevicePlan>) {
  return {
    connection: deviceConnection(args),
    source: plan.apply(
      (p) =>
        new pulumi.asset.AssetArchive({
          "device.js": new pulumi.asset.FileAsset(localCopy("device", "js", p.staged.files["device.js"])),
          "install.sh": new pulumi.asset.FileAsset(localCopy("install", "sh", p.staged.files["install.sh"])),
        }),
    ),
    remotePath: plan.apply((p) => p.staged.dir),
  } satisfies command.remote.CopyToRemoteArgs;
}

/** The remote command's arguments, built without creating anything (the tests check them). */
export function installCommandArgs(
  args: DeviceArgs,
  plan: pulumi.Output<DevicePlan>,
  lanPasswords: pulumi.Output<Record<string, string>> | undefined,
): command.remote.CommandArgs {
  const stdin = pulumi
    .all([
      plan,
      pulumi.output(args.identity.keyPem),
      lanPasswords ?? pulumi.output(undefined),
      pulumi.output(args.bridgeIdentity?.keyPem),
    ])
    .apply(([p, keyPem, passwords, bridgeKeyPem]) =>
      devicePayload(p, {
        keyPem,
        ...(passwords === undefined ? {} : { lanPasswords: passwords }),
        ...(bridgeKeyPem === undefined ? {} : { bridgeKeyPem }),
      }),
    );
  return {
    connection: deviceConnection(args),
    // A changed command line or stdin (new config, certificate, install script or bundle: the line names the
    // script's SHA-256, the script the bundle's) is an update, and an update with no `update` command runs this
    // `create` again (pulumi-command commandController.go Update): the idempotent install, in place. No
    // `triggers`: @pulumi/command registers replaceOnChanges ["triggers[*]"] (pulumi/pulumi-command#855), so a
    // content-derived trigger would replace the command, i.e. run the old `delete` (the full uninstall) and then
    // a fresh install on every change. The uninstall is for removal and destroy only. (No `update` copy of the
    // line either: the state would hold it twice.)
    create: plan.apply((p) => p.installCommand),
    delete: plan.apply((p) => p.uninstallCommand),
    // The key and LAN passwords travel only here: never in argv, a log, or a plain output.
    stdin: pulumi.secret(stdin),
    logging: "none",
    addPreviousOutputInEnv: false,
  };
}

/**
 * Without `hostKey` the provider accepts any host key (pulumi-command connection.go: ssh.InsecureIgnoreHostKey), so
 * whoever answers at the board's address gets the device key on stdin. Shown in every preview until it is pinned.
 */
export function missingHostKeyWarning(d: DeviceSettings): string | undefined {
  if (d.hostKey !== undefined) return undefined;
  const port = d.port === 22 ? "" : `-p ${d.port} `;
  return (
    `device ${d.id} has no hostKey: pulumi up will trust any SSH host key at ${d.host} and send it the device's ` +
    `private key. Pin it: run  ssh-keyscan -t ed25519 ${port}${d.host}  from a network you trust, compare its ` +
    `fingerprint (ssh-keygen -lf - <<< "<that line>") with  ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub  ` +
    `on the board's own console, then set hostKey of device ${d.id} in Pulumi.<stack>.yaml to the ` +
    `"ssh-ed25519 AAAA..." part of the line.`
  );
}

// Named after its type token, diy:device:Device: a new token would change every device's URN and replace them all.
export class Device extends pulumi.ComponentResource {
  readonly deviceId: string;
  /** SHA-256 of what is installed (without secrets): a readable marker of what changed, not a trigger. */
  readonly contentHash: pulumi.Output<string>;
  /** Bridge only: the MQTT username (child id) -> password each child uses on the LAN listener (secret). */
  readonly lanPasswords?: pulumi.Output<Record<string, string>>;
  readonly install: command.remote.Command;
  /** The bundle and install script, copied to the board before the install. */
  readonly files: command.remote.CopyToRemote;

  constructor(name: string, args: DeviceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("diy:device:Device", name, {}, opts);
    const d = args.device;
    this.deviceId = d.id;
    const child: pulumi.CustomResourceOptions = { parent: this };
    const warning = missingHostKeyWarning(d);
    if (warning) void pulumi.log.warn(warning, this);

    if (d.bridge) {
      // Letters and digits only: any Arduino sketch can hold it in a C string as is.
      const entries = d.bridge.children.map((c) => {
        const pw = new random.RandomPassword(`${name}-lan-${c.id}`, { length: 24, special: false }, child);
        return pw.result.apply((p) => [c.id, p] as const);
      });
      this.lanPasswords = pulumi.secret(pulumi.all(entries).apply((e) => Object.fromEntries(e)));
    }

    const b = args.broker;
    const plan = pulumi
      .all([
        pulumi.output(args.caCertPem),
        pulumi.output(args.identity.certPem),
        pulumi.output(b.kind === "iot-core" ? b.endpoint : b.host),
        pulumi.output(args.bundle),
        pulumi.output(args.bridgeIdentity?.certPem),
      ])
      .apply(([caCertPem, certPem, host, bundle, bridgeCertPem]) =>
        renderDevicePlan(d, {
          source: args.source ?? `stack ${pulumi.getStack()}`,
          broker:
            b.kind === "iot-core"
              ? { kind: "iot-core", endpoint: host, thingPrefix: b.thingPrefix }
              : { host, port: b.port },
          deviceBundle: bundle,
          caCertPem,
          certPem,
          ...(bridgeCertPem === undefined ? {} : { bridgeCertPem }),
        }),
      );
    this.contentHash = plan.apply((p) => p.contentHash);

    this.files = new command.remote.CopyToRemote(`${name}-files`, stagedFilesArgs(args, plan), {
      ...child,
      // Explicit: a component's dependsOn (the server push) is not a dependency of its children.
      ...(opts?.dependsOn === undefined ? {} : { dependsOn: opts.dependsOn }),
    });
    this.install = new command.remote.Command(`${name}-install`, installCommandArgs(args, plan, this.lanPasswords), {
      ...child,
      // After the copy, and so after the push.
      dependsOn: [this.files],
      additionalSecretOutputs: ["stdout", "stderr", "stdin"],
      // Should it ever be replaced (a rename, `pulumi up --replace`), uninstall first: the default order would
      // install the new one and then run the old one's uninstall on the same board, leaving it empty.
      deleteBeforeReplace: true,
      // A board that is gone would fail its uninstall (SSH) on every removal or `pulumi destroy` attempt, and with
      // it the whole destroy: with retainOnDelete the engine forgets the command without running its delete.
      retainOnDelete: d.retainOnDelete === true,
    });

    this.registerOutputs({ deviceId: d.id, contentHash: this.contentHash });
  }
}

export interface ProvisionDevicesArgs {
  devices: readonly DeviceSettings[];
  sshPrivateKey: pulumi.Input<string> | undefined;
  caCertPem: pulumi.Input<string>;
  /** Client identities by device id (infra/pki.ts `pki.clients`). */
  identities: Record<string, { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> }>;
  /** Bridge connection identities by bridge board id (infra/pki.ts `pki.bridges`). */
  bridgeIdentities?: Record<string, { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> }>;
  broker: DeviceBroker;
  bundle: pulumi.Input<string>;
  source?: string;
}

/** One Device per configured device, named `<name>-device-<id>`. */
export function provisionDevices(
  name: string,
  args: ProvisionDevicesArgs,
  opts?: pulumi.ComponentResourceOptions,
): Device[] {
  if (args.devices.length === 0) return [];
  const sshPrivateKey = args.sshPrivateKey;
  if (sshPrivateKey === undefined) {
    throw new Error(
      "deviceSshPrivateKey is required when devices are listed: pulumi config set --secret deviceSshPrivateKey < key",
    );
  }
  return args.devices.map((device) => {
    const { identity, bridgeIdentity } = deviceIdentities(device, args.identities, args.bridgeIdentities);
    return new Device(
      `${name}-device-${device.id}`,
      {
        device,
        sshPrivateKey,
        caCertPem: args.caCertPem,
        identity,
        ...(bridgeIdentity ? { bridgeIdentity } : {}),
        broker: args.broker,
        bundle: args.bundle,
        ...(args.source ? { source: args.source } : {}),
      },
      opts,
    );
  });
}
