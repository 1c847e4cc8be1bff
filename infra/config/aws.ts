// The aws provider's own config, as far as the server host key lookup (infra/server-host-key.ts) uses it: that
// lookup calls EC2 with the AWS SDK from the engine's dynamic provider, not through the aws provider.
import * as pulumi from "@pulumi/pulumi";

/** aws:* keys the lookup does not follow: it uses the SDK's default credential chain (plus aws:profile). */
export const AWS_KEYS_NOT_FOLLOWED = [
  "aws:accessKey",
  "aws:secretKey",
  "aws:token",
  "aws:assumeRole",
  "aws:assumeRoles",
  "aws:assumeRoleWithWebIdentity",
  "aws:sharedCredentialsFiles",
  "aws:sharedConfigFiles",
  "aws:endpoints",
] as const;

export interface AwsLookupSettings {
  /** aws:profile: the named profile of ~/.aws/config and ~/.aws/credentials. */
  profile?: string;
  /** Which of AWS_KEYS_NOT_FOLLOWED the stack sets (the preview warns about them). */
  notFollowed: string[];
}

export function awsLookupSettings(all: Record<string, string> = pulumi.runtime.allConfig()): AwsLookupSettings {
  const profile = all["aws:profile"];
  return {
    ...(profile ? { profile } : {}),
    notFollowed: AWS_KEYS_NOT_FOLLOWED.filter((k) => all[k] !== undefined && all[k] !== ""),
  };
}

export function awsLookupWarning(s: AwsLookupSettings): string | undefined {
  if (s.notFollowed.length === 0) return undefined;
  return (
    `The server host key lookup (ec2:GetConsoleOutput through the AWS SDK) does not use ${s.notFollowed.join(", ")} ` +
    "from the stack config: it takes credentials from the AWS_* environment variables, aws:profile or AWS_PROFILE " +
    "(shared config, SSO), or a role of the machine. Give pulumi credentials one of those ways, or the first up " +
    "stops at the lookup with a credentials error."
  );
}
