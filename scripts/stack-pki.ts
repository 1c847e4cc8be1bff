// A stack's identities from a local CA, issued as infra/pki.ts issues them in the cloud (the server with localhost
// and its addresses, the web app, one client per device and one per bridge connection) with the CRL infra/crl.ts
// signs for the revoked devices: for `npm run render` and the daemon tier, which have no `pulumi up`.
import type { Settings } from "../infra/config";
import type { StackPki } from "../infra/render-stack";
import { createCa, type IssuedCert, issueCert, renderCrl } from "../infra/render/x509";
import { bridgeIdentity } from "../protocol";

export interface LocalStackPki {
  /** In the shape renderStack takes. */
  pki: StackPki & { clients: Record<string, IssuedCert>; bridges: Record<string, IssuedCert> };
  ca: IssuedCert;
}

export async function issueStackPki(
  s: Pick<Settings, "devices" | "revokedDevices" | "domain">,
  opts: { caName: string; serverIps: readonly string[]; days?: number },
): Promise<LocalStackPki> {
  const days = opts.days;
  const ca = await createCa({ commonName: opts.caName, ...(days === undefined ? {} : { days }) });
  const issue = (commonName: string, kind: "server" | "client" = "client", sans = {}) =>
    issueCert(ca, { commonName, kind, ...sans, ...(days === undefined ? {} : { days }) });
  const server = await issue(s.domain ?? "server", "server", {
    dnsNames: ["localhost", ...(s.domain ? [s.domain] : [])],
    ipAddresses: [...opts.serverIps, "127.0.0.1"],
  });
  const { web, clients, bridges } = await issueMqttIdentities(s, issue);
  // A revoked bridge board's bridge connection is revoked with it.
  const revoked = s.revokedDevices.flatMap((id) => [clients[id], bridges[id]].flatMap((c) => (c ? [c] : [])));
  const crlPem = revoked.length > 0 ? await renderCrl({ ca, revoked }) : undefined;
  return {
    ca,
    pki: { caCertPem: ca.certPem, server, web, clients, bridges, ...(crlPem === undefined ? {} : { crlPem }) },
  };
}

/**
 * Stand-ins for the certificates AWS IoT issues at `pulumi up` with `broker: iot-core` (aws.iot.Certificate from
 * each identity's CSR): one for the web app, each board and each bridge connection, from a local CA named for
 * what it stands for. For `npm run render` and the tests; nothing trusts them.
 */
export async function issueIotStandIns(
  s: Pick<Settings, "devices">,
  opts: { caName: string; days?: number },
): Promise<MqttIdentities> {
  const days = opts.days;
  const ca = await createCa({ commonName: opts.caName, ...(days === undefined ? {} : { days }) });
  // On IoT Core the identity is the thing the certificate is attached to, not a name inside it.
  return issueMqttIdentities(s, () =>
    issueCert(ca, { commonName: "iot-stand-in", kind: "client", ...(days === undefined ? {} : { days }) }),
  );
}

interface MqttIdentities {
  web: IssuedCert;
  clients: Record<string, IssuedCert>;
  bridges: Record<string, IssuedCert>;
}

/** The MQTT identities of a stack, in issue order: the web app, each board, each bridge connection. */
async function issueMqttIdentities(
  s: Pick<Settings, "devices">,
  issue: (commonName: string) => Promise<IssuedCert>,
): Promise<MqttIdentities> {
  const web = await issue("web");
  const clients: Record<string, IssuedCert> = {};
  for (const d of s.devices) clients[d.id] = await issue(d.id);
  const bridges: Record<string, IssuedCert> = {};
  for (const d of s.devices) if (d.bridge) bridges[d.id] = await issue(bridgeIdentity(d.id));
  return { web, clients, bridges };
}
