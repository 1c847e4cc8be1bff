// The stack's certificates for the VM tier, made with the same helpers the Pulumi program and the demo use.
import { createCa, type IssuedCert, issueCert, type Pem } from "../../../infra/render/x509";

/** Name the server certificate carries; clients that dial an address verify this name. */
export const SERVER_NAME = "diy-server.test";

export interface VmPki {
  ca: IssuedCert;
  server: IssuedCert;
  web: IssuedCert;
  devices: Map<string, IssuedCert>;
  /** A client certificate from a CA the broker does not trust. */
  rogue: Pem;
}

export async function makePki(deviceIds: readonly string[]): Promise<VmPki> {
  const ca = await createCa({ commonName: "diy-device-cloud vm-test CA" });
  // The host reaches the server on 127.0.0.1, the device VM through QEMU's gateway 10.0.2.2.
  const server = await issueCert(ca, {
    commonName: SERVER_NAME,
    kind: "server",
    dnsNames: [SERVER_NAME],
    ipAddresses: ["127.0.0.1", "10.0.2.2"],
  });
  const web = await issueCert(ca, { commonName: "web", kind: "client" });
  const devices = new Map<string, IssuedCert>();
  for (const id of deviceIds) devices.set(id, await issueCert(ca, { commonName: id, kind: "client" }));
  const otherCa = await createCa({ commonName: "not the stack CA" });
  const rogue = await issueCert(otherCa, { commonName: deviceIds[0] ?? "pi1", kind: "client" });
  return { ca, server, web, devices, rogue };
}
