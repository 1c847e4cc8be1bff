// DeviceCloud: the whole stack as one component, so another Pulumi program can reuse it with
// `new DeviceCloud("iot", { settings, webBundle, deviceBundle })`. It wires the pieces in dependency order:
// address -> certificates -> firewall -> rendered files -> server + push -> devices.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type BrokerKind, bridgeIdentity, iotNamePrefix } from "../protocol";
import { iotCoreCaBundle } from "./amazon-root-ca";
import { localCopy } from "./bundle";
import {
  type AwsLookupSettings,
  awsLookupSettings,
  awsLookupWarning,
  historyStorageSettings,
  type Settings,
} from "./config";
import { type Device, provisionDevices } from "./devices";
import { revokedCerts, stackCrl } from "./crl";
import { createDnsRecord } from "./dns";
import { HistoryStorage } from "./history-storage";
import { IotCore } from "./iot-core";
import { createNetwork } from "./network";
import { createPlacement } from "./vpc";
import { type IssuedCerts, serialLedger } from "./serial-ledger";
import { createPki, type KeyCert, type Pki } from "./pki";
import { MQTT_TLS_PORT } from "./render/mosquitto";
import { SERVER_STAGED_WEB_NAME } from "./render/server-files";
import { renderServerPushOf, renderUserData, type ServerBrokerMaterial } from "./render-stack";
import { webConfig } from "./render/web-config";
import { requireCli, type VersionCheck } from "./pulumi-cli";
import { createAddress, createServer, type Server } from "./server";
import { bridgesOf, serverWebConfig } from "./server-input";

export interface DeviceCloudArgs {
  /** The validated stack settings (infra/config.ts loadSettings / parseSettings). */
  settings: Settings;
  /** The bundled web app (one JavaScript file, infra/bundle.ts). */
  webBundle: pulumi.Input<string>;
  /** The bundled device service (infra/bundle.ts); unused when the stack lists no devices. */
  deviceBundle: pulumi.Input<string>;
  /** How the Pulumi CLI version is checked (default: the engine's requirePulumiVersion); tests pass their own. */
  pulumiCliCheck?: VersionCheck;
  /** The aws provider config the server host key lookup follows (infra/config.ts); default: the stack's. */
  aws?: AwsLookupSettings;
}

export class DeviceCloud extends pulumi.ComponentResource {
  /** https://<domain or public IP> */
  readonly webUrl: pulumi.Output<string>;
  /** host:8883 */
  readonly brokerEndpoint: pulumi.Output<string>;
  /** Which broker runs MQTT (stack setting broker): what `npm run verify` reads to know where to look. Public. */
  readonly broker: BrokerKind;
  readonly publicIp: pulumi.Output<string>;
  readonly sshCommand: pulumi.Output<string>;
  readonly caCertPem: pulumi.Output<string>;
  readonly adminPrivateKey: pulumi.Output<string>;
  /** The server's SSH host key ("ssh-ed25519 AAAA...") read from its console; the push pins it. Public. */
  readonly serverHostKey: pulumi.Output<string>;
  /** The web page's password: the configured one or a generated one (secret either way). */
  readonly webPassword: pulumi.Output<string>;
  readonly webPasswordGenerated: boolean;
  /** The CA and every certificate, for device provisioning and the CRL. */
  readonly pki: Pki;
  /** Host devices connect to (domain or public IP; with IoT Core its ATS endpoint) and its MQTT/TLS port. */
  readonly brokerHost: pulumi.Output<string>;
  /** AWS IoT Core's things, certificates, policies and the web app's role (stack setting broker: iot-core). */
  readonly iotCore?: IotCore;
  readonly brokerPort = MQTT_TLS_PORT;
  /** The instance, its address association and the config push (devices depend on the push). */
  readonly server: Server;
  /** The history's EBS volume and its daily snapshots (infra/history-storage.ts). */
  readonly history: HistoryStorage;
  /** One provisioning component per configured device (infra/devices.ts). */
  readonly devices: Device[];
  /** Home Assistant's MQTT client certificate and key (key secret), when integrations.homeAssistant is on. */
  readonly homeAssistant?: { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
  /** Bridge id -> { child id -> password on the bridge's LAN listener } (secret): for the children's sketches. */
  readonly bridgeLanPasswords: pulumi.Output<Record<string, Record<string, string>>>;

  constructor(name: string, args: DeviceCloudArgs, opts?: pulumi.ComponentResourceOptions) {
    super("diy:index:DeviceCloud", name, {}, opts);
    const s = args.settings;
    const child: pulumi.ComponentResourceOptions = { parent: this };
    this.broker = s.broker;

    const eip = createAddress(name, s.tags, this);
    this.publicIp = eip.publicIp;
    const webHost = s.domain ? pulumi.output(s.domain) : eip.publicIp;
    // broker iot-core: every MQTT identity is a thing with a certificate AWS IoT issues (infra/iot-core.ts); the
    // stack CA then certifies only the server (nginx).
    const iot =
      s.broker === "iot-core"
        ? new IotCore(
            `${name}-iot`,
            { settings: s, thingPrefix: iotNamePrefix(pulumi.getProject(), pulumi.getStack()) },
            child,
          )
        : undefined;
    if (iot) this.iotCore = iot;
    this.brokerHost = iot ? iot.endpoint : webHost;

    // One client certificate per device and one more per bridge connection; bridge children speak plain
    // MQTT to their bridge.
    const pki = createPki(
      name,
      {
        serverIp: eip.publicIp,
        domain: s.domain,
        clientIds: iot ? [] : s.devices.map((d) => d.id),
        bridgeIds: iot ? [] : bridgesOf(s.devices).map((b) => b.id),
        homeAssistant: !iot && s.integrations.homeAssistant,
        validityDays: s.certValidityDays,
        earlyRenewalDays: s.certEarlyRenewalDays,
        rotation: s.certRotation,
      },
      this,
    );
    this.pki = pki;
    // Home Assistant connects to mosquitto only (the config refuses it with iot-core): the stack CA issues its identity.
    const homeAssistant = pki.homeAssistant;
    if (homeAssistant)
      this.homeAssistant = { certPem: homeAssistant.certPem, keyPem: pulumi.secret(homeAssistant.keyPem) };

    // Operations (infra/crl.ts, infra/dns.ts; the alert/Let's Encrypt/dynamic-DNS files and timers come
    // from infra/render/ops.ts through serverFilesInput): the CRL of revoked devices, the domain's A record.
    // With nothing revoked no CRL is pushed and mosquitto.conf drops `crlfile`: that restart is what
    // lets an un-revoked device back in.
    // The ledger remembers every client certificate serial the stack issued, revoked or not: when a
    // device is revoked later, its earlier certificates (say, one stolen before a rotation) are known.
    const issued: IssuedCerts = {};
    for (const [id, kc] of Object.entries(pki.clients)) issued[id] = kc.certPem;
    for (const [id, kc] of Object.entries(pki.bridges)) issued[bridgeIdentity(id)] = kc.certPem;
    // IoT Core takes no CRL: a revoked identity's certificate is inactive there (infra/iot-core.ts).
    const ledger = !iot && s.devices.length > 0 ? serialLedger(name, issued, child) : undefined;
    const revoked = iot ? [] : revokedCerts(pki, s.revokedDevices);
    const crlPem = revoked.length > 0 ? stackCrl({ ca: pki.ca, revoked, ...(ledger ? { ledger } : {}) }) : undefined;
    if (s.domain && s.route53ZoneId) {
      createDnsRecord(name, { domain: s.domain, zoneId: s.route53ZoneId, publicIp: eip.publicIp }, { parent: this });
    }

    const placement = createPlacement(name, { subnetId: s.subnetId, instanceType: s.instanceType, tags: s.tags }, this);
    // The history outlives the server: its own volume in the server's zone, attached by createServer below.
    const storage = historyStorageSettings(s);
    this.history = new HistoryStorage(
      `${name}-history`,
      {
        availabilityZone: placement.availabilityZone,
        sizeGiB: storage.volumeGiB,
        snapshotDays: storage.snapshotDays,
        snapshotId: storage.snapshotId,
        tags: s.tags,
      },
      child,
    );
    const historyVolumeId = this.history.volumeId;

    const network = createNetwork(
      name,
      {
        vpcId: placement.vpcId,
        adminCidrs: s.adminCidrs,
        smtpPort: s.smtpHost ? s.smtpPort : undefined,
        broker: s.broker,
        tags: s.tags,
      },
      this,
    );

    const generated = s.webPassword === undefined;
    const webPassword =
      s.webPassword ?? new random.RandomPassword(`${name}-web-password`, { length: 24, special: false }, child).result;
    const sessionSecret = new random.RandomPassword(`${name}-session-secret`, { length: 48, special: false }, child)
      .result;
    this.webPassword = pulumi.secret(webPassword);
    this.webPasswordGenerated = generated;

    const source = `DeviceCloud "${name}" (stack ${pulumi.getStack()})`;
    // The stack's files (infra/render-stack.ts), each part applied inside the outputs it needs: the user data on
    // the admin key alone (it stays plain), the push on the certificates and secrets (secret), each board in its
    // own component (infra/devices.ts).
    const userData = pki.adminSshKey.publicKeyOpenssh.apply((adminKey) =>
      renderUserData(s, { source, adminPublicKeys: [adminKey] }),
    );

    this.webUrl = pulumi.interpolate`https://${webHost}`;
    // The web app's config through the app's own schema now, so a value it would refuse fails the preview
    // (inside the apply below it would wait for the address); the push checks it again with its public origin.
    webConfig(serverWebConfig(s));

    // Rendered inside apply: the renderers are pure functions of plain text; the result carries the
    // private keys and passwords, so it stays a secret.
    const pkiText = pulumi.all([
      pki.ca.certPem,
      pki.server.certPem,
      pki.server.keyPem,
      pki.web.certPem,
      pki.web.keyPem,
    ]);
    const secrets = pulumi.all([webPassword, sessionSecret, s.smtpPassword ?? pulumi.output(undefined)]);
    // The web app's side of IoT Core: its endpoint, region, thing prefix, Amazon's roots and its thing's certificate.
    const brokerMaterial: pulumi.Output<ServerBrokerMaterial> = iot
      ? pulumi
          .all([iot.endpoint, iot.region, iot.web.certPem, iot.web.keyPem])
          .apply(([endpoint, region, certPem, keyPem]) => ({
            kind: "iot-core" as const,
            endpoint,
            region,
            thingPrefix: iot.thingPrefix,
            caCertPem: iotCoreCaBundle(),
            identities: { web: { certPem, keyPem } },
          }))
      : pulumi.output({});
    const push = pulumi
      .all([
        pkiText,
        secrets,
        args.webBundle,
        pulumi.output(crlPem),
        this.webUrl,
        pulumi.output(s.ddnsUpdateUrl),
        historyVolumeId,
        brokerMaterial,
      ])
      .apply(
        ([
          [caCertPem, serverCertPem, serverKeyPem, webCertPem, webKeyPem],
          [password, secret, smtpPassword],
          webBundle,
          crl,
          webUrl,
          ddnsUpdateUrl,
          volumeId,
          broker,
        ]) =>
          renderServerPushOf(s, {
            source,
            webUrl,
            broker,
            pki: {
              caCertPem,
              server: { certPem: serverCertPem, keyPem: serverKeyPem },
              web: { certPem: webCertPem, keyPem: webKeyPem },
              ...(crl === undefined ? {} : { crlPem: crl }),
            },
            webPassword: password,
            sessionSecret: secret,
            smtpPassword,
            webBundle,
            ddnsUpdateUrl,
            historyVolumeId: volumeId,
          }).push,
      );

    const awsLookup = args.aws ?? awsLookupSettings();
    const awsWarning = awsLookupWarning(awsLookup);
    if (awsWarning) pulumi.log.warn(awsWarning, this);
    const server = createServer(
      name,
      {
        instanceType: s.instanceType,
        os: s.os,
        arch: s.arch,
        broker: s.broker,
        adminUser: s.adminUser,
        eip,
        subnetId: placement.subnetId,
        networkReady: placement.ready,
        securityGroupId: network.securityGroup.id,
        securityGroupRules: network.rules,
        adminPrivateKey: pki.adminSshKey.privateKeyOpenssh,
        userData,
        push: {
          script: pulumi.secret(push.script),
          staged: pulumi.output(args.webBundle).apply(
            (code) =>
              new pulumi.asset.AssetArchive({
                [SERVER_STAGED_WEB_NAME]: new pulumi.asset.FileAsset(localCopy("web", "js", code)),
              }),
          ),
        },
        tags: s.tags,
        historyVolumeId,
        ...(iot ? { iamInstanceProfile: iot.webInstanceProfileName } : {}),
        cliReady: requireCli(args.pulumiCliCheck),
        awsProfile: awsLookup.profile,
      },
      this,
    );
    this.server = server;
    this.serverHostKey = server.hostKey.hostKey;

    // --- Devices (integration edit by provisioning, infra/devices.ts): one component per board, installed
    // over SSH after the push, so the broker is ready when the device service first connects.
    this.devices = provisionDevices(
      name,
      {
        devices: s.devices,
        sshPrivateKey: s.deviceSshPrivateKey,
        caCertPem: iot ? iotCoreCaBundle() : pki.ca.certPem,
        identities: iot ? iot.clients : pki.clients,
        bridgeIdentities: iot ? iot.bridges : pki.bridges,
        broker: iot
          ? { kind: "iot-core", endpoint: iot.endpoint, thingPrefix: iot.thingPrefix }
          : { host: this.brokerHost, port: MQTT_TLS_PORT },
        bundle: args.deviceBundle,
        source,
      },
      { parent: this, dependsOn: [server.push] },
    );
    this.bridgeLanPasswords = pulumi.secret(
      pulumi
        .all(
          this.devices.flatMap((d) => (d.lanPasswords ? [d.lanPasswords.apply((p) => [d.deviceId, p] as const)] : [])),
        )
        .apply((entries) => Object.fromEntries(entries)),
    );
    // --- end of devices

    this.brokerEndpoint = pulumi.interpolate`${this.brokerHost}:${MQTT_TLS_PORT}`;
    this.sshCommand = pulumi.interpolate`ssh -i admin.key ${s.adminUser}@${eip.publicIp}`;
    this.caCertPem = pki.ca.certPem;
    this.adminPrivateKey = pki.adminSshKey.privateKeyOpenssh;

    this.registerOutputs({
      webUrl: this.webUrl,
      brokerEndpoint: this.brokerEndpoint,
      broker: this.broker,
      publicIp: this.publicIp,
      sshCommand: this.sshCommand,
      caCertPem: this.caCertPem,
      serverHostKey: this.serverHostKey,
      instanceId: server.instance.id,
      historyVolumeId: this.history.volume.id,
    });
  }
}

export type { KeyCert };
