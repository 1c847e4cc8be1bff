// OpenSSL as the tests' reader of certificates and CRLs: mosquitto and nginx load these files through it.
import { execFileSync, spawnSync } from "node:child_process";

/** Runs openssl and returns its stdout; throws (the message holds its stderr) when it exits non-zero. */
export function openssl(args: readonly string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * `openssl verify -crl_check`: the certificate file against the CA file and the CRL file, as mosquitto checks a
 * client's certificate with its crlfile. Returns the exit status and all it printed (OpenSSL writes the reason a
 * certificate fails, e.g. "certificate revoked", to either stream).
 */
export function verifyAgainstCrl(files: { ca: string; crl: string; cert: string }): {
  status: number | null;
  output: string;
} {
  const r = spawnSync("openssl", ["verify", "-crl_check", "-CAfile", files.ca, "-CRLfile", files.crl, files.cert], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { status: r.status, output: r.stdout + r.stderr };
}
