// X.509 helpers on @peculiar/x509: a local CA for the demo, tests, VM tier and benchmarks, and the
// CRL the Pulumi program signs with the stack CA's key (@pulumi/tls has no CRL resource).
// Pure: keys, certificates and CRLs come back as PEM text; nothing touches disk or network.
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import { createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// Node's webcrypto types stand in for the DOM ones (this project compiles without the DOM lib).
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Pem {
  certPem: string;
  keyPem: string;
}

export interface IssuedCert extends Pem {
  /** Lowercase hex serial, as @peculiar/x509 and OpenSSL's `-serial` (lowercased) print it. */
  serial: string;
}

export interface CaInput {
  commonName: string;
  days?: number;
  /** Defaults to now; pass a fixed date for reproducible output in tests. */
  notBefore?: Date;
}

export interface CertInput {
  commonName: string;
  kind: "server" | "client";
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  days?: number;
  serial?: string;
  notBefore?: Date;
}

export interface CrlInput {
  ca: Pem;
  revoked: readonly { serial: string; revokedAt?: Date }[];
  thisUpdate?: Date;
  /** Defaults to thisUpdate + 30 days: mosquitto refuses every client once a CRL is past nextUpdate. */
  nextUpdate?: Date;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  if (bytes[0] === 0) bytes[0] = 1; // keep a full 16-byte serial without a leading zero octet
  return bytes.toString("hex");
}

function pemBody(der: ArrayBuffer, label: string): string {
  return x509.PemConverter.encode(der, label) + "\n";
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return pemBody(der, "PRIVATE KEY");
}

/** Accepts PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", what @pulumi/tls privateKeyPem gives). */
export async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", der, EC_ALG, false, ["sign"]);
}

function validity(notBefore: Date | undefined, days: number): { notBefore: Date; notAfter: Date } {
  // Back-date by a minute so a freshly issued cert is valid on a peer whose clock is slightly behind.
  const start = notBefore ?? new Date(Date.now() - 60_000);
  return { notBefore: start, notAfter: new Date(start.getTime() + days * DAY_MS) };
}

export async function createCa(input: CaInput): Promise<IssuedCert> {
  const keys = await generateKeys();
  const serial = randomSerial();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: `CN=${input.commonName}`,
    ...validity(input.notBefore, input.days ?? 3650),
    signingAlgorithm: EC_ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await exportKeyPem(keys.privateKey), serial };
}

export async function issueCert(ca: Pem, input: CertInput): Promise<IssuedCert> {
  const [cert] = await issueCerts(ca, [input], { shareKey: false });
  if (!cert) throw new Error("no certificate issued");
  return cert;
}

/**
 * Several certificates from one CA key import. With `shareKey` they all certify one key pair (for
 * load tests that need thousands of identities: key generation would dominate, and a broker's cost
 * per connection does not depend on the key).
 */
export async function issueCerts(
  ca: Pem,
  inputs: readonly CertInput[],
  opts: { shareKey: boolean },
): Promise<IssuedCert[]> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const signingKey = await importSigningKey(ca.keyPem);
  const shared = opts.shareKey ? await generateKeys() : undefined;
  const sharedPem = shared ? await exportKeyPem(shared.privateKey) : undefined;
  const out: IssuedCert[] = [];
  for (const input of inputs) {
    const keys = shared ?? (await generateKeys());
    out.push(await sign(caCert, signingKey, keys, sharedPem ?? (await exportKeyPem(keys.privateKey)), input));
  }
  return out;
}

async function sign(
  caCert: x509.X509Certificate,
  signingKey: CryptoKey,
  keys: CryptoKeyPair,
  keyPem: string,
  input: CertInput,
): Promise<IssuedCert> {
  const serial = input.serial ?? randomSerial();
  const names: x509.JsonGeneralName[] = [
    ...(input.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(input.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([
      input.kind === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${input.commonName}`,
    issuer: caCert.subject,
    ...validity(input.notBefore, input.days ?? 397),
    signingAlgorithm: EC_ALG,
    signingKey,
    publicKey: keys.publicKey,
    extensions,
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await exportKeyPem(keys.privateKey), serial };
}

/** When a PEM certificate expires (ISO 8601). */
export function certNotAfter(certPem: string): string {
  return new x509.X509Certificate(certPem).notAfter.toISOString();
}

/** The serial of a PEM certificate, lowercase hex: what a CRL entry names. */
export function certSerial(certPem: string): string {
  return new x509.X509Certificate(certPem).serialNumber.toLowerCase();
}

/**
 * A CRL signed by the CA. The library labels PEM "CRL", which OpenSSL (and so mosquitto) cannot
 * read: the label must be "X509 CRL".
 */
export async function renderCrl(input: CrlInput): Promise<string> {
  const caCert = new x509.X509Certificate(input.ca.certPem);
  const thisUpdate = input.thisUpdate ?? new Date(Date.now() - 60_000);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subject,
    thisUpdate,
    nextUpdate: input.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * DAY_MS),
    signingAlgorithm: EC_ALG,
    signingKey: await importSigningKey(input.ca.keyPem),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCert)],
    entries: input.revoked.map((r) => ({
      serialNumber: r.serial,
      revocationDate: r.revokedAt ?? thisUpdate,
      reason: x509.X509CrlReason.keyCompromise,
    })),
  });
  return crl.toString("pem").replace(/-----(BEGIN|END) CRL-----/g, "-----$1 X509 CRL-----") + "\n";
}
