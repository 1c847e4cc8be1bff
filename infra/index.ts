// The Pulumi program: read the stack config once, build the DeviceCloud, export what a user needs.
// (Composition and outputs only; every resource lives in the modules DeviceCloud calls.)
import * as pulumi from "@pulumi/pulumi";
import { bundle } from "./bundle";
import { DeviceCloud } from "./cloud";
import { loadSettings } from "./config";

// Throws one ConfigError naming every bad key before any resource exists.
const settings = loadSettings();

const cloud = new DeviceCloud("diy", {
  settings,
  // One file with the page inlined, for the Node 18 that Debian 12 ships: `node web.js`, no npm on the server.
  webBundle: bundle("web").code,
  // The device service, one file for the boards' own node (built only when the stack lists devices).
  deviceBundle: settings.devices.length > 0 ? bundle("device").code : "",
});

/** Open this in a browser (the CA certificate below must be trusted unless a domain with Let's Encrypt is set). */
export const webUrl = cloud.webUrl;
/** host:port devices connect to with MQTT over TLS and their client certificate (broker iot-core: the ATS endpoint). */
export const brokerEndpoint = cloud.brokerEndpoint;
/** mosquitto (on the server) or iot-core (AWS IoT Core): where `npm run verify` looks for the broker. Public. */
export const broker = cloud.broker;
export const publicIp = cloud.publicIp;
/** Save the key first: pulumi stack output adminPrivateKey --show-secrets > admin.key && chmod 600 admin.key */
export const sshCommand = cloud.sshCommand;
/** The stack's CA: import it into a browser/OS to trust the server, give it to MQTT clients (mosquitto only). Public. */
export const caCertPem = cloud.caCertPem;
/** The server's SSH host key, read from its console through EC2's API: echo "<publicIp> <key>" >> known_hosts. Public. */
export const serverHostKey = cloud.serverHostKey;
/** The EBS volume that holds the history; its daily snapshots carry the same diy-device-cloud:history tag. */
export const historyVolumeId = cloud.history.volume.id;
export const adminPrivateKey = pulumi.secret(cloud.adminPrivateKey);
/** Only when generated (a configured password is already known to its owner): pulumi stack output webPassword --show-secrets */
export const webPassword = cloud.webPasswordGenerated ? pulumi.secret(cloud.webPassword) : undefined;
/** Bridge id -> { child id -> password for the bridge's LAN listener } for the children's sketches; only with bridges. */
export const bridgeLanPasswords = settings.devices.some((d) => d.bridge) ? cloud.bridgeLanPasswords : undefined;
/** Home Assistant's MQTT client certificate (public) and key (secret), with integrations.homeAssistant on. */
export const homeAssistantCertPem = cloud.homeAssistant?.certPem;
export const homeAssistantKeyPem = cloud.homeAssistant ? pulumi.secret(cloud.homeAssistant.keyPem) : undefined;
