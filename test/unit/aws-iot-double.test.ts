// The AWS IoT double's own rules (aws-iot-double.ts), each checked against what AWS documents.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { awsAccountInvoke, csrProblem, iotCertificateState } from "./aws-iot-double";
import { tlsState } from "./tls-double";

/** A CSR made by openssl (the tls double, like webcrypto, has no P-224; @pulumi/tls does, and uses it by default). */
const opensslCsr = (newkey: string[]) =>
  execFileSync("openssl", ["req", "-new", "-nodes", "-subj", "/CN=pi1", "-keyout", "/dev/null", ...newkey], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });

async function csrOf(key: Record<string, unknown>): Promise<string> {
  const k = (await tlsState("tls:index/privateKey:PrivateKey", "k", key)) as { privateKeyPem: string };
  const r = (await tlsState("tls:index/certRequest:CertRequest", "k", {
    privateKeyPem: k.privateKeyPem,
    subject: { commonName: "pi1" },
  })) as { certRequestPem: string };
  return r.certRequestPem;
}

test("CreateCertificateFromCsr: RSA >= 2048 or ECC P-256/384/521; @pulumi/tls's default P-224 and RSA 1024 refused", async () => {
  assert.equal(await csrProblem(await csrOf({ algorithm: "ECDSA", ecdsaCurve: "P256" })), undefined);
  assert.equal(await csrProblem(await csrOf({ algorithm: "ECDSA", ecdsaCurve: "P384" })), undefined);
  assert.equal(await csrProblem(await csrOf({ algorithm: "RSA", rsaBits: 2048 })), undefined);
  assert.match(
    (await csrProblem(opensslCsr(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-224"]))) ?? "",
    /neither RSA/,
  );
  assert.match((await csrProblem(opensslCsr(["-newkey", "rsa:1024"]))) ?? "", /neither RSA/);
  assert.match((await csrProblem("-----BEGIN CERTIFICATE-----\n")) ?? "", /not a PEM certificate request/);
});

test("a certificate from a CSR: id is the SHA-256 of the certificate, ARN names it; no CSR is refused", async () => {
  const state = await iotCertificateState(
    "c",
    { csr: await csrOf({ algorithm: "ECDSA", ecdsaCurve: "P256" }) },
    "eu-central-1",
  );
  assert.match(String(state.id), /^[0-9a-f]{64}$/);
  assert.equal(state.arn, `arn:aws:iot:eu-central-1:123456789012:cert/${state.id}`);
  assert.match(String(state.certificatePem), /^-----BEGIN CERTIFICATE-----/);
  await assert.rejects(iotCertificateState("c", { active: true }, "eu-central-1"), /give csr/);
  await assert.rejects(
    iotCertificateState(
      "c",
      { csr: opensslCsr(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-224"]) },
      "eu-central-1",
    ),
    /InvalidRequestException/,
  );
});

test("DescribeEndpoint: the ATS endpoint is <id>-ats.iot.<region>.amazonaws.com; an unknown type is refused", () => {
  assert.equal(
    awsAccountInvoke("aws:iot/getEndpoint:getEndpoint", { endpointType: "iot:Data-ATS" }, "eu-central-1")
      ?.endpointAddress,
    "a3mockendpoint7-ats.iot.eu-central-1.amazonaws.com",
  );
  assert.throws(() => awsAccountInvoke("aws:iot/getEndpoint:getEndpoint", { endpointType: "ats" }, "eu-central-1"));
});
