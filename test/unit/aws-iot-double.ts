// What AWS IoT Core and the account look-ups answer the aws provider under mocks, with AWS's documented rules. The
// names and policy sizes of infra/aws-rules.ts apply to every registration already (program-harness); this double
// holds the rest:
// - DescribeEndpoint (AWS IoT API Reference): endpointType iot:Data (VeriSign), iot:Data-ATS, iot:CredentialProvider
//   or iot:Jobs; the answer is "identifier.iot.region.amazonaws.com", the ATS one with "-ats" after the identifier.
// - CreateCertificateFromCsr (AWS IoT API Reference): "The CSR must include a public key that is either an RSA key
//   with a length of at least 2048 bits or an ECC key from NIST P-256, NIST P-384, or NIST P-521 curves"; a CSR whose
//   signature does not verify is not a CSR. AWS IoT issues the certificate itself (subject CN "AWS IoT Certificate",
//   issuer "OU=Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US"); the certificate id is the
//   SHA-256 of the certificate, 64 hex digits, and its ARN arn:<partition>:iot:<region>:<account>:cert/<id>.
// - ARNs of things and policies: arn:<partition>:iot:<region>:<account>:thing/<name>, .../policy/<name>.
// - STS GetCallerIdentity, the provider's region and partition: the account id is 12 digits.
import "reflect-metadata";
import { createHash, createPublicKey } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { tlsState } from "./tls-double";

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_ENDPOINT_ID = "a3mockendpoint7";

const ENDPOINT_TYPES = ["iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"];

/** The answer to an account or IoT look-up, or undefined for another token. */
export function awsAccountInvoke(
  token: string,
  inputs: Record<string, unknown>,
  region: string,
): Record<string, unknown> | undefined {
  switch (token) {
    case "aws:iot/getEndpoint:getEndpoint": {
      const type = inputs.endpointType as string | undefined;
      if (type !== undefined && !ENDPOINT_TYPES.includes(type))
        throw new Error(
          `InvalidRequestException: endpointType ${JSON.stringify(type)} is not one of ${ENDPOINT_TYPES}`,
        );
      const host =
        type === "iot:Data-ATS"
          ? `${MOCK_ENDPOINT_ID}-ats.iot.${region}.amazonaws.com`
          : type === "iot:CredentialProvider"
            ? `c2mockcredentials.credentials.iot.${region}.amazonaws.com`
            : type === "iot:Jobs"
              ? `${MOCK_ENDPOINT_ID}.jobs.iot.${region}.amazonaws.com`
              : `${MOCK_ENDPOINT_ID}.iot.${region}.amazonaws.com`;
      return { endpointAddress: host, ...(type ? { endpointType: type } : {}), id: region };
    }
    case "aws:index/getRegion:getRegion":
      return { region, name: region, id: region, endpoint: `ec2.${region}.amazonaws.com`, description: region };
    case "aws:index/getPartition:getPartition":
      return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws", reverseDnsPrefix: "com.amazonaws" };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return {
        accountId: MOCK_ACCOUNT,
        arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/deployer`,
        id: MOCK_ACCOUNT,
        userId: "AIDAMOCKDEPLOYER",
      };
    default:
      return undefined;
  }
}

/** Why CreateCertificateFromCsr refuses this CSR; undefined when it issues a certificate. */
export async function csrProblem(csrPem: unknown): Promise<string | undefined> {
  if (typeof csrPem !== "string" || !csrPem.includes("-----BEGIN CERTIFICATE REQUEST-----"))
    return "certificateSigningRequest is not a PEM certificate request";
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  // The key first (node reads any curve; webcrypto, which verifies the signature, knows no P-224).
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
  const d = key.asymmetricKeyDetails ?? {};
  const supported =
    (key.asymmetricKeyType === "rsa" && (d.modulusLength ?? 0) >= 2048) ||
    (key.asymmetricKeyType === "ec" && ["prime256v1", "secp384r1", "secp521r1"].includes(d.namedCurve ?? ""));
  if (!supported)
    return `the CSR's public key (${key.asymmetricKeyType} ${d.namedCurve ?? d.modulusLength ?? ""}) is neither RSA of at least 2048 bits nor ECC on NIST P-256, P-384 or P-521`;
  if (!(await csr.verify())) return "the certificate request's signature does not verify";
  return undefined;
}

let issuer: Promise<{ caPrivateKeyPem: string; caCertPem: string }> | undefined;
/** The stand-in for AWS IoT's own issuing CA (nothing outside the tests trusts it). */
function awsIotIssuer() {
  issuer ??= (async () => {
    const key = (await tlsState("tls:index/privateKey:PrivateKey", "aws-iot-issuer", {
      algorithm: "ECDSA",
      ecdsaCurve: "P256",
    })) as { privateKeyPem: string };
    const cert = (await tlsState("tls:index/selfSignedCert:SelfSignedCert", "aws-iot-issuer", {
      privateKeyPem: key.privateKeyPem,
      isCaCertificate: true,
      subject: {
        organizationalUnit: "Amazon Web Services",
        organization: "Amazon.com Inc.",
        locality: "Seattle",
        province: "Washington",
        country: "US",
      },
      validityPeriodHours: 24 * 365 * 30,
      allowedUses: ["cert_signing", "crl_signing"],
    })) as { certPem: string };
    return { caPrivateKeyPem: key.privateKeyPem, caCertPem: cert.certPem };
  })();
  return issuer;
}

/** aws.iot.Certificate from a CSR: the issued certificate, its id and ARN; throws what AWS IoT would answer. */
export async function iotCertificateState(
  name: string,
  inputs: Record<string, any>,
  region: string,
): Promise<Record<string, unknown>> {
  if (inputs.csr === undefined)
    throw new Error(
      `aws.iot.Certificate ${name}: this program makes its own keys; give csr (CreateCertificateFromCsr)`,
    );
  const problem = await csrProblem(inputs.csr);
  if (problem) throw new Error(`aws.iot.Certificate ${name}: InvalidRequestException: ${problem}`);
  const ca = await awsIotIssuer();
  const cert = (await tlsState("tls:index/locallySignedCert:LocallySignedCert", name, {
    certRequestPem: inputs.csr,
    ...ca,
    validityPeriodHours: 24 * 365 * 30,
    allowedUses: ["digital_signature", "client_auth"],
  })) as { certPem: string };
  const der = Buffer.from(new x509.X509Certificate(cert.certPem).rawData);
  const id = createHash("sha256").update(der).digest("hex");
  return {
    id,
    arn: `arn:aws:iot:${region}:${MOCK_ACCOUNT}:cert/${id}`,
    certificatePem: cert.certPem,
    caCertificateId: "",
  };
}

/** Computed outputs of the other IoT and IAM resources infra/iot-core.ts creates. */
export function iotResourceState(
  type: string,
  name: string,
  inputs: Record<string, any>,
  region: string,
): Record<string, unknown> | undefined {
  switch (type) {
    case "aws:iot/thing:Thing":
      return {
        arn: `arn:aws:iot:${region}:${MOCK_ACCOUNT}:thing/${inputs.name}`,
        defaultClientId: inputs.name,
        version: 1,
      };
    case "aws:iot/policy:Policy":
      return { arn: `arn:aws:iot:${region}:${MOCK_ACCOUNT}:policy/${inputs.name}`, defaultVersionId: "1" };
    case "aws:iam/instanceProfile:InstanceProfile": {
      const profileName = inputs.name ?? `${name}-0a1b2c3`;
      return { name: profileName, arn: `arn:aws:iam::${MOCK_ACCOUNT}:instance-profile/${profileName}` };
    }
    default:
      return undefined;
  }
}
