// The trust anchors of the IoT Core broker profile. Devices and the web app verify AWS IoT Core's ATS data
// endpoint (iot:Data-ATS) against Amazon Trust Services' roots, not the stack CA: AWS IoT Core Developer Guide,
// "Server authentication" (server-authentication.html): the chain presented depends on the endpoint type and
// the negotiated cipher suite; ATS endpoints chain to Amazon Root CA 1 (RSA 2048) or Amazon Root CA 3 (ECC
// P-256), so a client that may negotiate either suite trusts both.
// The certificates ship in the repository (infra/trust/, copied from Debian's ca-certificates package
// 20230311+deb12u1, /usr/share/ca-certificates/mozilla/Amazon_Root_CA_{1,3}.crt) and are read only after their
// SHA-256 matches the value noted here (and in infra/trust/README.md): a changed file fails the program instead
// of shipping a different trust anchor to every board.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TrustAnchor {
  /** Subject as Amazon Trust Services lists it (RFC 4514). */
  subject: string;
  path: string;
  /** SHA-256 of the file's bytes (sha256sum). */
  fileSha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo, as Amazon Trust Services publishes it (www.amazontrust.com/repository). */
  spkiSha256: string;
}

export const AMAZON_ROOT_CA_1: TrustAnchor = {
  subject: "CN=Amazon Root CA 1,O=Amazon,C=US",
  path: join(__dirname, "trust", "AmazonRootCA1.pem"),
  fileSha256: "2c43952ee9e000ff2acc4e2ed0897c0a72ad5fa72c3d934e81741cbd54f05bd1",
  spkiSha256: "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2",
};

export const AMAZON_ROOT_CA_3: TrustAnchor = {
  subject: "CN=Amazon Root CA 3,O=Amazon,C=US",
  path: join(__dirname, "trust", "AmazonRootCA3.pem"),
  fileSha256: "3eb7c3258f4af9222033dc1bb3dd2c7cfa0982b98e39fb8e9dc095cfeb38126c",
  spkiSha256: "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9",
};

/** The roots an IoT Core client trusts, in the order they go into its CA file. */
export const IOT_CORE_TRUST_ANCHORS: readonly TrustAnchor[] = [AMAZON_ROOT_CA_1, AMAZON_ROOT_CA_3];

/** One anchor's PEM text; throws when the file is not the one noted. */
export function trustAnchorPem(anchor: TrustAnchor): string {
  const bytes = readFileSync(anchor.path);
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (sha !== anchor.fileSha256)
    throw new Error(
      `${anchor.path} has SHA-256 ${sha}, not ${anchor.subject}'s ${anchor.fileSha256}: restore it (git checkout -- ${anchor.path})`,
    );
  return bytes.toString("utf8");
}

/** The CA file of an IoT Core client: every anchor, checked. */
export function iotCoreCaBundle(): string {
  return IOT_CORE_TRUST_ANCHORS.map(trustAnchorPem).join("");
}
