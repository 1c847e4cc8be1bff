// Which roots the broker's TLS chain must verify against, by the broker the outputs name.
// - mosquitto: the stack CA (caCertPem), which issued the server's certificate.
// - iot-core: Amazon's roots and nothing else. AWS IoT Core Developer Guide, "Server authentication"
//   (iot/latest/developerguide/server-authentication.html): an iot:Data-ATS endpoint presents a server certificate
//   signed by an Amazon Trust Services CA, the chain depending on the cipher suite negotiated: Amazon Root CA 1
//   (RSA) or 3 (ECC). The same two files the boards and the web app get (infra/amazon-root-ca.ts, SHA-256 checked).
// A test cannot reach AWS: it stands the endpoint in locally with a CA of its own and names that CA's file in
// TEST_IOT_ROOTS_ENV. That is the one way to replace Amazon's roots, it is refused unless the endpoint is dialled
// through --broker-via (a stand-in is never at the real endpoint's address), and every run that uses it says so
// on stderr and in the tls-8883 line. Nothing falls back to it.
import { readFileSync } from "node:fs";
import { iotCoreCaBundle } from "../../infra/amazon-root-ca";
import { TEST_IOT_ROOTS_ENV, UsageError } from "./options";
import type { Target } from "./outputs";

export interface BrokerTrust {
  /** PEM roots for the broker's chain. */
  pem: string;
  /** How the verdicts name them. */
  label: string;
  /** Said on stderr before any check: the test roots are in use. */
  warning?: string;
}

export const STACK_CA_LABEL = "the stack CA (caCertPem)";
export const AMAZON_ROOTS_LABEL = "Amazon Root CA 1 and 3 (infra/trust)";

export function brokerTrust(
  target: Pick<Target, "broker" | "caCertPem">,
  opts: { brokerVia?: unknown },
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): BrokerTrust {
  // mosquitto's chain is the stack's own: the variable has nothing to replace there.
  if (target.broker === "mosquitto") return { pem: target.caCertPem, label: STACK_CA_LABEL };
  const file = env[TEST_IOT_ROOTS_ENV];
  if (!file) return { pem: iotCoreCaBundle(), label: AMAZON_ROOTS_LABEL };
  if (!opts.brokerVia)
    throw new UsageError(
      `${TEST_IOT_ROOTS_ENV} is for tests against a stand-in endpoint reached with --broker-via; unset it to check AWS IoT Core against Amazon's roots`,
    );
  let pem: string;
  try {
    pem = readFile(file);
  } catch (err) {
    throw new UsageError(`${TEST_IOT_ROOTS_ENV}: cannot read ${file}: ${(err as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new UsageError(`${TEST_IOT_ROOTS_ENV}: ${file} holds no PEM certificate`);
  return {
    pem,
    label: `the test-only roots in ${file} (${TEST_IOT_ROOTS_ENV}), not Amazon's`,
    warning: `warning: ${TEST_IOT_ROOTS_ENV} is set: the IoT Core endpoint is checked against ${file} instead of Amazon Root CA 1 and 3. For tests against a stand-in only: unset it to check a real deployment`,
  };
}
