// A double of the @pulumi/tls provider for pulumi.runtime.setMocks: real keys, CSRs and certificates,
// generated at test time, in the formats the provider returns. So code that parses them (the CRL the
// program signs with the CA key, a serial lookup) runs under the mocks exactly as on `pulumi up`.
//
// Source: hashicorp/terraform-provider-tls (the bridged provider behind @pulumi/tls), internal/provider:
// - resource_private_key.go: privateKeyPem is PKCS#1 "RSA PRIVATE KEY" for RSA, SEC1 "EC PRIVATE KEY"
//   for ECDSA (x509.MarshalECPrivateKey), PKCS#8 "PRIVATE KEY" for ED25519; privateKeyPemPkcs8 is PKCS#8;
//   privateKeyOpenssh is ssh.MarshalPrivateKey (openssh-key-v1, cipher none); every PEM ends in "\n".
//   ecdsaCurve defaults to P224, for which x/crypto/ssh has no format: privateKeyOpenssh,
//   publicKeyOpenssh and the fingerprints are "".
// - common_key.go: publicKeyPem is PKIX "PUBLIC KEY"; publicKeyOpenssh is ssh.MarshalAuthorizedKey
//   ("<type> <base64>\n"); fingerprints are ssh.FingerprintLegacyMD5 / ssh.FingerprintSHA256.
// - common_cert.go: serial uniformly random below 2^128 (the resource id is its decimal form);
//   notBefore = now, notAfter = now + validityPeriodHours; allowedUses split into key usages and
//   extended key usages (unknown names refused by the schema); isCaCertificate sets CA and a subject key
//   id (SHA-1 of the public key) and needs a non-empty subject.
// - resource_locally_signed_cert.go: subject, DNS names, IPs and URIs come from the CSR; CA key and cert
//   are parsed (wrong PEM type = error); Go's x509.CreateCertificate refuses a CA key that does not match
//   the CA certificate, and copies the CA's subject key id into the authority key id.
// - Go's crypto/x509: basicConstraints and keyUsage critical; ECDSA P-256/384/521 sign with
//   SHA-256/384/512; subject attributes in pkix.Name.ToRDNSequence order (C, ST, L, street, postalCode,
//   O, OU, CN, serialNumber).
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  webcrypto,
} from "node:crypto";
import * as x509 from "@peculiar/x509";

type CryptoKey = webcrypto.CryptoKey;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const CURVES = { P224: "secp224r1", P256: "prime256v1", P384: "secp384r1", P521: "secp521r1" } as const;
type Curve = keyof typeof CURVES;
const SSH_CURVE: Partial<Record<Curve, { name: string; hash: string }>> = {
  P256: { name: "nistp256", hash: "SHA-256" },
  P384: { name: "nistp384", hash: "SHA-384" },
  P521: { name: "nistp521", hash: "SHA-512" },
};
const KEY_USAGES: Record<string, number> = {
  digital_signature: x509.KeyUsageFlags.digitalSignature,
  content_commitment: x509.KeyUsageFlags.nonRepudiation,
  key_encipherment: x509.KeyUsageFlags.keyEncipherment,
  data_encipherment: x509.KeyUsageFlags.dataEncipherment,
  key_agreement: x509.KeyUsageFlags.keyAgreement,
  cert_signing: x509.KeyUsageFlags.keyCertSign,
  crl_signing: x509.KeyUsageFlags.cRLSign,
  encipher_only: x509.KeyUsageFlags.encipherOnly,
  decipher_only: x509.KeyUsageFlags.decipherOnly,
};
const EXT_KEY_USAGES: Record<string, string> = {
  any_extended: "2.5.29.37.0",
  server_auth: x509.ExtendedKeyUsage.serverAuth,
  client_auth: x509.ExtendedKeyUsage.clientAuth,
  code_signing: x509.ExtendedKeyUsage.codeSigning,
  email_protection: x509.ExtendedKeyUsage.emailProtection,
  ipsec_end_system: "1.3.6.1.5.5.7.3.5",
  ipsec_tunnel: "1.3.6.1.5.5.7.3.6",
  ipsec_user: "1.3.6.1.5.5.7.3.7",
  timestamping: x509.ExtendedKeyUsage.timeStamping,
  ocsp_signing: x509.ExtendedKeyUsage.ocspSigning,
  microsoft_server_gated_crypto: "1.3.6.1.4.1.311.10.3.3",
  netscape_server_gated_crypto: "2.16.840.1.113730.4.1",
  microsoft_commercial_code_signing: "1.3.6.1.4.1.311.2.1.22",
  microsoft_kernel_code_signing: "1.3.6.1.4.1.311.61.1.1",
};

/** A private key the double handed out: what a leak scan looks for (see secretLeaks in program-harness). */
export interface IssuedSecret {
  name: string;
  pem: string;
  /** Bytes of the secret inside the PEM body (the private scalar or seed), never public. */
  secretBytes: Buffer;
}
export const issuedSecrets: IssuedSecret[] = [];

// ---- OpenSSH wire format (RFC 4251 strings and mpints; PROTOCOL.key for openssh-key-v1) ----
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const sshString = (b: Buffer | string) => {
  const buf = typeof b === "string" ? Buffer.from(b) : b;
  return Buffer.concat([u32(buf.length), buf]);
};
function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  const v = b.subarray(i);
  return sshString(v.length > 0 && (v[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}
const b64u = (s: string | undefined) => Buffer.from(s ?? "", "base64url");

/** Public blob and private fields of a key in SSH wire format, or undefined where x/crypto/ssh has none. */
function sshParts(key: KeyObject): { type: string; pub: Buffer; priv: Buffer } | undefined {
  // P-224: ssh.NewPublicKey fails, the provider leaves the fields empty (Node has no JWK for it either)
  if (key.asymmetricKeyDetails?.namedCurve === CURVES.P224) return undefined;
  const jwk = key.export({ format: "jwk" });
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
    const pub = b64u(jwk.x);
    const type = "ssh-ed25519";
    return {
      type,
      pub: Buffer.concat([sshString(type), sshString(pub)]),
      priv: Buffer.concat([sshString(type), sshString(pub), sshString(Buffer.concat([b64u(jwk.d), pub]))]),
    };
  }
  if (jwk.kty === "EC") {
    const curve = Object.entries({ "P-256": "P256", "P-384": "P384", "P-521": "P521" }).find(
      ([c]) => c === jwk.crv,
    )?.[1] as Curve | undefined;
    const ssh = curve ? SSH_CURVE[curve] : undefined;
    if (!ssh) return undefined;
    const type = `ecdsa-sha2-${ssh.name}`;
    const q = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
    const pub = Buffer.concat([sshString(type), sshString(ssh.name), sshString(q)]);
    return { type, pub, priv: Buffer.concat([pub, mpint(b64u(jwk.d))]) };
  }
  if (jwk.kty === "RSA") {
    const type = "ssh-rsa";
    const [n, e, d, p, q, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.qi].map(b64u) as Buffer[];
    return {
      type,
      pub: Buffer.concat([sshString(type), mpint(e as Buffer), mpint(n as Buffer)]),
      priv: Buffer.concat([sshString(type), ...[n, e, d, qi, p, q].map((x) => mpint(x as Buffer))]),
    };
  }
  return undefined;
}

/** PEM as Go's encoding/pem writes it: 64-character lines, trailing newline. */
export function goPem(label: string, der: Buffer): string {
  const b64 = der.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** ssh.MarshalPrivateKey(key, comment): openssh-key-v1, unencrypted, padded to 8 bytes with 1, 2, 3... */
function opensshPrivateKey(parts: { pub: Buffer; priv: Buffer }, comment = ""): string {
  const check = randomBytes(4);
  let body = Buffer.concat([check, check, parts.priv, sshString(comment)]);
  const pad: number[] = [];
  for (let i = 0; (body.length + i) % 8 !== 0; i++) pad.push(i + 1);
  body = Buffer.concat([body, Buffer.from(pad)]);
  const blob = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    u32(1),
    sshString(parts.pub),
    sshString(body),
  ]);
  return goPem("OPENSSH PRIVATE KEY", blob);
}

const md5Fingerprint = (blob: Buffer) => (createHash("md5").update(blob).digest("hex").match(/../g) ?? []).join(":");
const sha256Fingerprint = (blob: Buffer) =>
  `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;

function privateBytes(key: KeyObject): Buffer {
  if (key.asymmetricKeyDetails?.namedCurve === CURVES.P224) {
    // SEC1 ECPrivateKey: 30 len 02 01 01 04 1c <28-byte scalar> ... (no JWK for P-224 in Node)
    return key.export({ type: "sec1", format: "der" }).subarray(7, 7 + 28);
  }
  return b64u(key.export({ format: "jwk" }).d);
}

/** Records where the secret sits in a PEM's body, for the leak scan. */
function remember(name: string, pem: string, key: KeyObject): void {
  if (pem) issuedSecrets.push({ name, pem, secretBytes: privateBytes(key) });
}

/** An ED25519 key in OpenSSH format, as `ssh-keygen -t ed25519` writes it (for config-supplied SSH keys). */
export function opensshEd25519Key(name: string): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const parts = sshParts(privateKey);
  if (!parts) throw new Error("unreachable: ed25519 always has an OpenSSH form");
  const pem = opensshPrivateKey(parts);
  remember(name, pem, privateKey);
  return pem;
}

function privateKeyState(name: string, inputs: Record<string, any>): Record<string, string | number> {
  const algorithm = inputs.algorithm;
  let key: KeyObject;
  let privateKeyPem: string;
  let ecdsaCurve: Curve | undefined;
  let rsaBits: number | undefined;
  if (algorithm === "ECDSA") {
    ecdsaCurve = (inputs.ecdsaCurve ?? "P224") as Curve; // the provider's default, which browsers refuse
    if (!(ecdsaCurve in CURVES))
      throw new Error(`tls PrivateKey ${name}: ecdsaCurve must be one of P224, P256, P384, P521`);
    key = generateKeyPairSync("ec", { namedCurve: CURVES[ecdsaCurve] }).privateKey;
    privateKeyPem = key.export({ type: "sec1", format: "pem" }) as string;
  } else if (algorithm === "ED25519") {
    key = generateKeyPairSync("ed25519").privateKey;
    privateKeyPem = key.export({ type: "pkcs8", format: "pem" }) as string;
  } else if (algorithm === "RSA") {
    rsaBits = Number(inputs.rsaBits ?? 2048);
    key = generateKeyPairSync("rsa", { modulusLength: rsaBits }).privateKey;
    privateKeyPem = key.export({ type: "pkcs1", format: "pem" }) as string;
  } else {
    throw new Error(`tls PrivateKey ${name}: algorithm must be one of RSA, ECDSA, ED25519, got ${algorithm}`);
  }
  const privateKeyPemPkcs8 = key.export({ type: "pkcs8", format: "pem" }) as string;
  const parts = sshParts(key);
  const privateKeyOpenssh = parts ? opensshPrivateKey(parts, inputs.opensshComment ?? "") : "";
  const comment = inputs.opensshComment ? ` ${inputs.opensshComment}` : "";
  for (const pem of [privateKeyPem, privateKeyPemPkcs8, privateKeyOpenssh]) remember(name, pem, key);
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  return {
    algorithm,
    ...(ecdsaCurve ? { ecdsaCurve } : {}),
    ...(rsaBits ? { rsaBits } : {}),
    privateKeyPem,
    privateKeyPemPkcs8,
    privateKeyOpenssh,
    publicKeyPem: goPem("PUBLIC KEY", spki),
    publicKeyOpenssh: parts ? `${parts.type} ${parts.pub.toString("base64")}${comment}\n` : "",
    publicKeyFingerprintMd5: parts ? md5Fingerprint(parts.pub) : "",
    publicKeyFingerprintSha256: parts ? sha256Fingerprint(parts.pub) : "",
  };
}

// ---- X.509 ----

interface Signer {
  algorithm: "RSA" | "ECDSA" | "ED25519";
  key: KeyObject;
  signingKey: CryptoKey;
  signingAlgorithm: Algorithm | EcdsaParams;
  keys: { privateKey: CryptoKey; publicKey: CryptoKey };
}
type Algorithm = { name: string; hash?: string };
type EcdsaParams = { name: string; hash: string };

/** Parses a private key the way parsePrivateKeyPEM does and readies it for signing. */
async function signerOf(what: string, pem: string): Promise<Signer> {
  const label = /-----BEGIN ([A-Z ]+)-----/.exec(pem ?? "")?.[1];
  if (!label || !["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"].includes(label))
    throw new Error(`${what}: failed to decode PEM block (no RSA, EC or PKCS#8 private key)`);
  const key = createPrivateKey(pem);
  const pkcs8 = key.export({ type: "pkcs8", format: "der" });
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  let alg: { name: string; namedCurve?: string; hash?: string };
  let signingAlgorithm: Algorithm | EcdsaParams;
  let algorithm: Signer["algorithm"];
  if (key.asymmetricKeyType === "ec") {
    const crv = key.export({ format: "jwk" }).crv as string;
    const hash = { "P-256": "SHA-256", "P-384": "SHA-384", "P-521": "SHA-512" }[crv];
    // Go would sign with P-224 too; WebCrypto cannot. The program never should: browsers refuse P-224.
    if (!hash) throw new Error(`${what}: the test double cannot sign with curve ${crv} (use P256)`);
    alg = { name: "ECDSA", namedCurve: crv };
    signingAlgorithm = { name: "ECDSA", hash };
    algorithm = "ECDSA";
  } else if (key.asymmetricKeyType === "ed25519") {
    alg = { name: "Ed25519" };
    signingAlgorithm = { name: "Ed25519" };
    algorithm = "ED25519";
  } else if (key.asymmetricKeyType === "rsa") {
    alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    signingAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    algorithm = "RSA";
  } else {
    throw new Error(`${what}: unsupported private key type ${key.asymmetricKeyType}`);
  }
  const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("spki", spki, alg, true, ["verify"]);
  return { algorithm, key, signingKey: privateKey, signingAlgorithm, keys: { privateKey, publicKey } };
}

/** pkix.Name.ToRDNSequence order; the inputs are @pulumi/tls's subject fields. */
function subjectName(subject: Record<string, any> | undefined): x509.JsonName {
  const s = subject ?? {};
  const one = (oid: string, v: unknown) => (v === undefined || v === "" ? [] : [{ [oid]: [String(v)] }]);
  return [
    ...one("2.5.4.6", s.country),
    ...one("2.5.4.8", s.province),
    ...one("2.5.4.7", s.locality),
    ...((s.streetAddresses ?? []) as string[]).flatMap((a) => one("2.5.4.9", a)),
    ...one("2.5.4.17", s.postalCode),
    ...one("2.5.4.10", s.organization),
    ...one("2.5.4.11", s.organizationalUnit),
    ...one("2.5.4.3", s.commonName),
    ...one("2.5.4.5", s.serialNumber),
  ];
}

/** Go's generateSubjectKeyID: SHA-1 of the EC point, of the ASN.1 RSA public key, or of the ED25519 key. */
function subjectKeyId(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: "jwk" });
  let bytes: Buffer;
  if (jwk.kty === "EC") bytes = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
  else if (jwk.kty === "OKP") bytes = Buffer.concat([Buffer.from([4, 32]), b64u(jwk.x)]);
  else bytes = pub.export({ type: "pkcs1", format: "der" });
  return createHash("sha1").update(bytes).digest();
}

function sanExtension(inputs: { dnsNames?: string[]; ipAddresses?: string[]; uris?: string[] }): x509.Extension[] {
  const names: x509.JsonGeneralName[] = [
    ...(inputs.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(inputs.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(inputs.uris ?? []).map((value) => ({ type: "url" as const, value })),
  ];
  return names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [];
}

interface CertOutputs {
  id: string;
  certPem: string;
  validityStartTime: string;
  validityEndTime: string;
  readyForRenewal: boolean;
  isCaCertificate: boolean;
  earlyRenewalHours: number;
  setSubjectKeyId: boolean;
}

/** common_cert.go createCertificate: serial, validity, usages, CA flag, key ids. */
async function createCertificate(
  what: string,
  inputs: Record<string, any>,
  template: { subject: x509.JsonName | x509.Name; sans: x509.Extension[]; publicKey: KeyObject },
  issuer: { name: x509.JsonName | x509.Name; signer: Signer; subjectKeyId?: Buffer } | undefined,
  self: Signer,
): Promise<CertOutputs> {
  const hours = Number(inputs.validityPeriodHours);
  if (!Number.isInteger(hours) || hours < 0) throw new Error(`${what}: validityPeriodHours must be an integer >= 0`);
  const uses = (inputs.allowedUses ?? []) as string[];
  for (const u of uses)
    if (!(u in KEY_USAGES) && !(u in EXT_KEY_USAGES)) throw new Error(`${what}: allowedUses: unsupported value "${u}"`);
  const isCa = inputs.isCaCertificate === true;
  if (isCa && Array.isArray(template.subject) && template.subject.length === 0)
    throw new Error(`${what}: Must contain at least one Distinguished Name when creating Certificate Authority (CA)`);

  const serial = randomBytes(16); // rand.Int(rand.Reader, 2^128)
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + hours * 3_600_000);
  const keyUsage = uses.reduce((acc, u) => acc | (KEY_USAGES[u] ?? 0), 0);
  const extUsages = uses.flatMap((u) => (EXT_KEY_USAGES[u] ? [EXT_KEY_USAGES[u]] : []));
  const ski = isCa || inputs.setSubjectKeyId === true ? subjectKeyId(template.publicKey) : undefined;
  const extensions: x509.Extension[] = [];
  if (keyUsage) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  if (extUsages.length) extensions.push(new x509.ExtendedKeyUsageExtension(extUsages));
  extensions.push(new x509.BasicConstraintsExtension(isCa, undefined, true));
  if (ski) extensions.push(new x509.SubjectKeyIdentifierExtension(ski.toString("hex")));
  if (issuer?.subjectKeyId)
    extensions.push(new x509.AuthorityKeyIdentifierExtension(issuer.subjectKeyId.toString("hex")));
  extensions.push(...template.sans);

  const signer = issuer?.signer ?? self;
  const spki = template.publicKey.export({ type: "spki", format: "der" });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString("hex"),
    subject: template.subject,
    issuer: issuer?.name ?? template.subject,
    notBefore,
    notAfter,
    extensions,
    signingAlgorithm: signer.signingAlgorithm,
    signingKey: signer.signingKey,
    publicKey: new x509.PublicKey(spki),
  });
  return {
    id: BigInt(`0x${serial.toString("hex")}`).toString(10),
    certPem: goPem("CERTIFICATE", Buffer.from(cert.rawData)),
    validityStartTime: notBefore.toISOString().replace(".000Z", "Z"),
    validityEndTime: notAfter.toISOString().replace(".000Z", "Z"),
    readyForRenewal: false,
    isCaCertificate: isCa,
    earlyRenewalHours: inputs.earlyRenewalHours ?? 0,
    setSubjectKeyId: inputs.setSubjectKeyId ?? false,
  };
}

function pemOfType(what: string, pem: unknown, label: string): string {
  const got = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(String(pem ?? ""))?.[1];
  if (got !== label) throw new Error(`${what}: invalid PEM type - expected "${label}", got "${got ?? "none"}"`);
  return String(pem);
}

async function selfSignedCertState(name: string, inputs: Record<string, any>) {
  const what = `tls SelfSignedCert ${name}`;
  const signer = await signerOf(`${what}: privateKeyPem`, inputs.privateKeyPem);
  const subject = subjectName(inputs.subject);
  const cert = await createCertificate(
    what,
    inputs,
    { subject, sans: sanExtension(inputs), publicKey: createPublicKey(signer.key) },
    undefined,
    signer,
  );
  return { ...cert, keyAlgorithm: signer.algorithm };
}

async function certRequestState(name: string, inputs: Record<string, any>) {
  const what = `tls CertRequest ${name}`;
  const signer = await signerOf(`${what}: privateKeyPem`, inputs.privateKeyPem);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectName(inputs.subject),
    keys: signer.keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]["keys"],
    signingAlgorithm: signer.signingAlgorithm,
    extensions: sanExtension(inputs),
  });
  return { certRequestPem: goPem("CERTIFICATE REQUEST", Buffer.from(csr.rawData)), keyAlgorithm: signer.algorithm };
}

async function locallySignedCertState(name: string, inputs: Record<string, any>) {
  const what = `tls LocallySignedCert ${name}`;
  const csr = new x509.Pkcs10CertificateRequest(
    pemOfType(`${what}: certRequestPem`, inputs.certRequestPem, "CERTIFICATE REQUEST"),
  );
  if (!(await csr.verify())) throw new Error(`${what}: the certificate request's signature does not verify`);
  const signer = await signerOf(`${what}: caPrivateKeyPem`, inputs.caPrivateKeyPem);
  const caCert = new x509.X509Certificate(pemOfType(`${what}: caCertPem`, inputs.caCertPem, "CERTIFICATE"));
  const caPub = createPublicKey({ key: Buffer.from(caCert.publicKey.rawData), format: "der", type: "spki" });
  const keyPub = createPublicKey(signer.key);
  if (!caPub.export({ format: "der", type: "spki" }).equals(keyPub.export({ format: "der", type: "spki" })))
    throw new Error(`${what}: x509: provided PrivateKey doesn't match parent's PublicKey`);
  const san = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension) as
    | x509.SubjectAlternativeNameExtension
    | undefined;
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await createCertificate(
    what,
    inputs,
    {
      subject: csr.subjectName,
      sans: san ? [new x509.SubjectAlternativeNameExtension(san.names.toJSON())] : [],
      publicKey: createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" }),
    },
    { name: caCert.subjectName, signer, subjectKeyId: ski ? Buffer.from(ski.keyId, "hex") : undefined },
    signer,
  );
  return { ...cert, caKeyAlgorithm: signer.algorithm };
}

/** The provider's computed outputs for a tls resource, or undefined when the type is not @pulumi/tls's. */
export async function tlsState(
  type: string,
  name: string,
  inputs: Record<string, any>,
): Promise<Record<string, unknown> | undefined> {
  switch (type) {
    case "tls:index/privateKey:PrivateKey":
      return privateKeyState(name, inputs);
    case "tls:index/selfSignedCert:SelfSignedCert":
      return selfSignedCertState(name, inputs);
    case "tls:index/certRequest:CertRequest":
      return certRequestState(name, inputs);
    case "tls:index/locallySignedCert:LocallySignedCert":
      return locallySignedCertState(name, inputs);
    default:
      return undefined;
  }
}

export interface TestPki {
  caCertPem: string;
  caKeyPem: string;
  clients: Record<string, { certPem: string; keyPem: string }>;
}

/** A CA and one client identity per id (CN = id), made through the double the way infra/pki.ts asks. */
export async function testPki(ids: readonly string[]): Promise<TestPki> {
  const p256 = { algorithm: "ECDSA", ecdsaCurve: "P256" };
  const caKey = privateKeyState("test-ca", p256);
  const ca = await selfSignedCertState("test-ca", {
    privateKeyPem: caKey.privateKeyPem,
    isCaCertificate: true,
    subject: { commonName: "DIY Device Cloud CA", organization: "DIY Device Cloud" },
    validityPeriodHours: 24,
    allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
  });
  const clients: TestPki["clients"] = {};
  for (const id of ids) {
    const key = privateKeyState(`test-${id}`, p256);
    const csr = await certRequestState(`test-${id}`, {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: id, organization: "DIY Device Cloud" },
    });
    const cert = await locallySignedCertState(`test-${id}`, {
      certRequestPem: csr.certRequestPem,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      validityPeriodHours: 24,
      allowedUses: ["digital_signature", "client_auth"],
    });
    clients[id] = { certPem: cert.certPem, keyPem: key.privateKeyPem as string };
  }
  return { caCertPem: ca.certPem, caKeyPem: caKey.privateKeyPem as string, clients };
}
