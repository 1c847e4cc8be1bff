// The server's SSH host key, read from the instance's console output through EC2's GetConsoleOutput API, so the
// push and its file copy refuse any other host (without `hostKey` @pulumi/command accepts every key:
// remote/connection.go ssh.InsecureIgnoreHostKey). The API is TLS + SigV4 with the user's own AWS credentials:
// someone between this machine and port 22 cannot forge it, and only root on the fresh instance writes the
// console lines the parser accepts (infra/render/console-host-key.ts).
//
// A Pulumi dynamic resource: its provider object is serialized with its closure (@pulumi/pulumi
// runtime/closure/serializeClosure) and run by the engine's pulumi-nodejs provider in another Node process. So the
// provider's functions capture only plain functions and data, and load the AWS SDK with require() when they run.
import * as pulumi from "@pulumi/pulumi";
import {
  type ConsoleHostKey,
  decodeConsoleOutput,
  hostKeysFromConsole,
  pinnedHostKey,
} from "./render/console-host-key";

/**
 * How long to wait for cloud-init to print the keys. They appear at the end of the first boot's final stage (after
 * the packages are installed: a few minutes on a micro type). On Nitro types (t3, t3a, t4g) `Latest: true` reads the
 * console as it is; on Xen (t2) EC2 posts buffered output only "shortly after an instance transition state" (EC2
 * API Reference, GetConsoleOutput), which can lag by many minutes.
 */
export const HOST_KEY_WAIT = { timeoutSeconds: 25 * 60, intervalSeconds: 10 };

/** The IAM action the lookup needs (on the instance's ARN). */
export const CONSOLE_ACTION = "ec2:GetConsoleOutput";

/** GetConsoleOutput's request and response as the EC2 API defines them (GetConsoleOutputRequest / Result). */
export interface ConsoleOutputRequest {
  InstanceId: string;
  /** Nitro types only; others answer UnsupportedOperation. */
  Latest?: boolean;
}
export interface ConsoleOutputResult {
  InstanceId?: string;
  Timestamp?: Date;
  /** base64; absent or empty until the instance has posted output. */
  Output?: string;
}

export interface ConsoleLookup {
  getConsoleOutput(request: ConsoleOutputRequest): Promise<ConsoleOutputResult>;
  sleep(ms: number): Promise<void>;
  /** Milliseconds, for the deadline only. */
  now(): number;
}

export interface HostKeyWait {
  instanceId: string;
  timeoutSeconds: number;
  intervalSeconds: number;
}

/** Errors that mean "not yet" or "try again" rather than "this cannot work". */
const RETRYABLE = [
  // EC2 is eventually consistent: right after RunInstances other calls may not know the instance yet.
  "InvalidInstanceID.NotFound",
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "InternalError",
  "InternalFailure",
  "ServiceUnavailable",
  "Unavailable",
];
// Plain arrays, not Sets: they travel in the serialized provider.
const DENIED = ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "AuthFailure"];

/**
 * Polls GetConsoleOutput until cloud-init's host key block is complete and returns the key to pin, or fails with
 * a message naming the instance and the fix: at once when the credentials may not call ec2:GetConsoleOutput or
 * the block holds no usable key, after `timeoutSeconds` when the keys never appear.
 */
export async function waitForConsoleHostKey(ec2: ConsoleLookup, wait: HostKeyWait): Promise<ConsoleHostKey> {
  const id = wait.instanceId;
  const deadline = ec2.now() + wait.timeoutSeconds * 1000;
  let latest = true;
  let seen = "no console output yet";
  for (;;) {
    let result: ConsoleOutputResult | undefined;
    try {
      result = await ec2.getConsoleOutput(latest ? { InstanceId: id, Latest: true } : { InstanceId: id });
    } catch (e) {
      const code = errorCode(e);
      const message = e instanceof Error ? e.message : String(e);
      if (latest && code === "UnsupportedOperation") {
        // A Xen type (t2): only the buffered output exists; ask for that from now on.
        latest = false;
        continue;
      }
      if (DENIED.includes(code)) {
        throw new Error(
          `Cannot read the SSH host key of instance ${id}: the AWS credentials pulumi runs with may not call ` +
            `${CONSOLE_ACTION} (${code}: ${message}). The config push trusts only the host key that cloud-init ` +
            `printed on the instance's console. Fix: allow the IAM action ${CONSOLE_ACTION} on ` +
            `arn:aws:ec2:*:*:instance/${id} (or instance/*) for this identity, then run pulumi up again.`,
        );
      }
      if (code === "CredentialsProviderError") {
        throw new Error(
          `Cannot read the SSH host key of instance ${id}: no AWS credentials for ${CONSOLE_ACTION} (${message}). ` +
            "The lookup uses the AWS SDK's default chain: AWS_* environment variables, aws:profile or AWS_PROFILE " +
            "(shared config, SSO), or a role of the machine; aws:accessKey and aws:assumeRoles are not followed.",
        );
      }
      if (!RETRYABLE.includes(code) && !isNetworkError(e)) {
        throw new Error(`Cannot read the console output of instance ${id} (${CONSOLE_ACTION}): ${code}: ${message}`);
      }
      seen = `last answer ${code}: ${message}`;
    }
    if (result) {
      if (result.InstanceId !== undefined && result.InstanceId !== id) {
        throw new Error(`GetConsoleOutput for ${id} answered for instance ${result.InstanceId}`);
      }
      const found = hostKeysFromConsole(decodeConsoleOutput(result.Output));
      if (found) {
        const pin = pinnedHostKey(found);
        if (pin) return pin;
        // cloud-init prints the keys once per instance: a later read shows the same block.
        const why = found.rejected.map((r) => `${r.reason}: ${r.line.slice(0, 60)}`).join("; ") || "no such key";
        throw new Error(
          `The console of instance ${id} lists no usable ed25519 or ECDSA SSH host key (${why}). The image's ` +
            "cloud-init must print them (ssh.emit_keys_to_console not false, no ssh_key_console_blacklist for them, " +
            "ed25519 in ssh_genkeytypes). Fix the image or its cloud-init config, then replace the instance.",
        );
      }
      seen = result.Output
        ? "console output, but not yet cloud-init's SSH HOST KEY KEYS block"
        : "no console output yet";
    }
    if (ec2.now() >= deadline) {
      throw new Error(
        `No SSH host key for instance ${id} after ${Math.round(wait.timeoutSeconds / 60)} minutes (${seen}). ` +
          "cloud-init prints the keys once, at the end of the instance's first boot (cc_keys_to_console); a t2 " +
          "type posts its console output late. See the instance's console (EC2 console: Actions > Monitor and " +
          "troubleshoot > Get system log): if cloud-init is still running, run pulumi up again; if it failed, or the " +
          "instance booted before this check existed and was rebooted since, the keys are no longer there: see " +
          "README Operations, Host keys.",
      );
    }
    await ec2.sleep(wait.intervalSeconds * 1000);
  }
}

/** The AWS SDK v3 names a service error by its code (`name`; EC2's query protocol also sets `Code`). */
function errorCode(e: unknown): string {
  const err = e as { name?: unknown; Code?: unknown };
  if (typeof err?.Code === "string") return err.Code;
  return typeof err?.name === "string" ? err.name : "Error";
}

function isNetworkError(e: unknown): boolean {
  const err = e as { code?: unknown; $metadata?: unknown; name?: unknown };
  const code = typeof err?.code === "string" ? err.code : "";
  return (
    ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN", "EPIPE"].includes(code) || err?.name === "TimeoutError"
  );
}

/** The region in an EC2 ARN (arn:<partition>:ec2:<region>:<account>:instance/<id>): where the instance really is. */
export function regionOfArn(arn: string): string {
  const region = arn.split(":")[3];
  if (!region) throw new Error(`not an EC2 instance ARN with a region: ${JSON.stringify(arn)}`);
  return region;
}

/** Inputs the provider stores (plain values: the state shows them) and the outputs it adds. */
export interface HostKeyInputs extends HostKeyWait {
  region: string;
  /** aws:profile, when the stack sets one; otherwise the SDK's default chain (environment, AWS_PROFILE, SSO, role). */
  profile?: string;
}
export interface HostKeyOutputs extends HostKeyInputs {
  hostKey: string;
  hostKeyType: string;
  fingerprint: string;
}

/** The dynamic provider. Everything it uses at run time is captured by value or require()d inside. */
export const hostKeyProvider: pulumi.dynamic.ResourceProvider<HostKeyInputs, HostKeyOutputs> = {
  async diff(_id, olds, news) {
    // A new instance has new host keys (cloud-init generates them per instance): look again. A change of region
    // or profile alone changes nothing about the key.
    const replace = olds.instanceId !== news.instanceId;
    return { changes: replace, replaces: replace ? ["instanceId"] : [], deleteBeforeReplace: false };
  },
  async create(inputs) {
    const sdk = require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2");
    const client = new sdk.EC2Client({ region: inputs.region, ...(inputs.profile ? { profile: inputs.profile } : {}) });
    try {
      const key = await waitForConsoleHostKey(
        {
          getConsoleOutput: (request) => client.send(new sdk.GetConsoleOutputCommand(request)),
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          now: () => Date.now(),
        },
        inputs,
      );
      const outs: HostKeyOutputs = { ...inputs, hostKey: key.key, hostKeyType: key.type, fingerprint: key.fingerprint };
      return { id: inputs.instanceId, outs };
    } finally {
      client.destroy();
    }
  },
  // Never read again: cloud-init prints the keys only at the first boot, and they do not change while the
  // instance lives (a refresh after a reboot must not lose them).
  async read(id, props) {
    return { id, props };
  },
  async delete() {
    // Nothing exists outside the state.
  },
};

export interface ServerHostKeyArgs {
  instanceId: pulumi.Input<string>;
  /** The instance's ARN: its region is where to ask, whatever told the aws provider its region. */
  instanceArn: pulumi.Input<string>;
  profile?: string;
}

/** `hostKey` ("ssh-ed25519 AAAA...") is what `connection.hostKey` pins; it is public, not a secret. */
export class ServerHostKey extends pulumi.dynamic.Resource {
  declare readonly hostKey: pulumi.Output<string>;
  declare readonly hostKeyType: pulumi.Output<string>;
  declare readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: ServerHostKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      hostKeyProvider,
      name,
      {
        instanceId: args.instanceId,
        region: pulumi.output(args.instanceArn).apply(regionOfArn),
        profile: args.profile,
        timeoutSeconds: HOST_KEY_WAIT.timeoutSeconds,
        intervalSeconds: HOST_KEY_WAIT.intervalSeconds,
        hostKey: undefined,
        hostKeyType: undefined,
        fingerprint: undefined,
      },
      opts,
      "diy",
      "ServerHostKey",
    );
  }
}
