// The stack's CRL as a pure, reproducible function of (CA, revoked serials): the same inputs give the
// same bytes on every `pulumi up`, so an unchanged revocation list never changes the push trigger.
// ECDSA signatures are normally randomized; this one uses RFC 6979 deterministic nonces. The dates
// are the CA's own validity (thisUpdate = CA notBefore, nextUpdate = CA notAfter): a CRL past its
// nextUpdate makes OpenSSL (mosquitto) refuse every client, and the CA key never leaves the program
// to re-sign one on the server, so the CRL lives exactly as long as the CA.
import "reflect-metadata";
import { createECDH, createHash, createHmac, createPrivateKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { importSigningKey } from "./x509";

export interface StableCrlInput {
  caCertPem: string;
  /** PKCS#8 or SEC1 PEM of the CA's P-256 key (@pulumi/tls privateKeyPem). */
  caKeyPem: string;
  /** Lowercase hex serials of the revoked certificates. */
  revokedSerials: readonly string[];
}

/** Order of the P-256 group. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString("hex") || "0"}`);
const to32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, "0"), "hex");

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let r = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return r;
}

/** ECDSA P-256 / SHA-256 with an RFC 6979 nonce; returns r||s (IEEE P1363, what WebCrypto returns). */
export function signDeterministic(privateKeyPem: string, data: Uint8Array): Buffer {
  const jwk = createPrivateKey(privateKeyPem).export({ format: "jwk" });
  if (jwk.crv !== "P-256" || typeof jwk.d !== "string") throw new Error("the CA key must be an ECDSA P-256 key");
  const xBytes = Buffer.from(jwk.d, "base64url");
  const x = toBig(xBytes);
  const h1 = createHash("sha256").update(data).digest();
  const e = toBig(h1) % N; // qlen = hlen = 256: bits2int is the plain integer
  const hmac = (key: Buffer, ...parts: Buffer[]) => createHmac("sha256", key).update(Buffer.concat(parts)).digest();
  let v = Buffer.alloc(32, 1);
  let k = Buffer.alloc(32, 0);
  k = hmac(k, v, Buffer.from([0]), to32(x), to32(e));
  v = hmac(k, v);
  k = hmac(k, v, Buffer.from([1]), to32(x), to32(e));
  v = hmac(k, v);
  for (;;) {
    v = hmac(k, v);
    const nonce = toBig(v);
    if (nonce >= 1n && nonce < N) {
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(to32(nonce));
      const point = ecdh.getPublicKey(); // 04 || X || Y
      const r = toBig(point.subarray(1, 33)) % N;
      const s = (modPow(nonce, N - 2n, N) * ((e + r * x) % N)) % N;
      if (r !== 0n && s !== 0n) return Buffer.concat([to32(r), to32(s)]);
    }
    k = hmac(k, v, Buffer.from([0]));
    v = hmac(k, v);
  }
}

/** WebCrypto with `sign` replaced by the deterministic signer for one key; everything else is Node's. */
function deterministicCrypto(privateKeyPem: string): webcrypto.Crypto {
  const subtle = new Proxy(webcrypto.subtle, {
    get(target, prop) {
      if (prop === "sign") {
        return async (_alg: unknown, _key: unknown, data: ArrayBuffer | ArrayBufferView) => {
          const bytes = ArrayBuffer.isView(data)
            ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
            : new Uint8Array(data);
          const sig = signDeterministic(privateKeyPem, bytes);
          return sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    getRandomValues: webcrypto.getRandomValues.bind(webcrypto),
    randomUUID: webcrypto.randomUUID.bind(webcrypto),
    subtle,
  } as webcrypto.Crypto;
}

const SERIAL = /^[0-9a-f]{1,40}$/;

/** A CRL (PEM label "X509 CRL", which OpenSSL reads) listing the serials; byte-identical for equal inputs. */
export async function renderStableCrl(input: StableCrlInput): Promise<string> {
  const serials = [...new Set(input.revokedSerials.map((s) => s.toLowerCase()))].sort();
  for (const s of serials) if (!SERIAL.test(s)) throw new Error(`revoked serial must be hex, got ${JSON.stringify(s)}`);
  const caCert = new x509.X509Certificate(input.caCertPem);
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: caCert.subject,
      thisUpdate: caCert.notBefore,
      nextUpdate: caCert.notAfter,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      signingKey: await importSigningKey(input.caKeyPem),
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCert)],
      entries: serials.map((serialNumber) => ({
        serialNumber,
        revocationDate: caCert.notBefore,
        reason: x509.X509CrlReason.keyCompromise,
      })),
    },
    deterministicCrypto(input.caKeyPem) as unknown as Parameters<typeof x509.X509CrlGenerator.create>[1],
  );
  return `${crl.toString("pem").replace(/-----(BEGIN|END) CRL-----/g, "-----$1 X509 CRL-----")}\n`;
}
