// The oldest Pulumi CLI this program works with, checked at run time. The server's image and user data are pinned
// by a `pulumi:index:Stash` whose `replacementTrigger` is the OS and architecture (infra/server.ts): both arrived in
// the engine in Pulumi 3.208.0 (CHANGELOG 3.208.0, 2025-11-19: "Add a replacement_trigger resource option", "Add a
// new builtin Stash resource"; pulumi/pulumi#20936, #20819). An older engine does not know the trigger field of the
// request and would silently ignore it, so the check must fail the resources that rely on it.
import * as pulumi from "@pulumi/pulumi";

export const MIN_PULUMI_CLI = "3.208.0";

export type VersionCheck = (range: string) => Promise<void>;

/** Resolves when the running Pulumi CLI is new enough; rejects with the minimum version and the fix otherwise. */
export function checkCli(check: VersionCheck = pulumi.runtime.requirePulumiVersion): Promise<void> {
  return check(`>=${MIN_PULUMI_CLI}`).catch((e: unknown) => {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `DIY Device Cloud needs Pulumi CLI ${MIN_PULUMI_CLI} or newer (Stash and replacementTrigger); ${why}. ` +
        "Upgrade: https://www.pulumi.com/docs/install/ (then `pulumi version`)",
    );
  });
}

/**
 * checkCli as an Output for the resources that rely on the new engine features: a failed check fails their
 * registration. Without an engine (unit tests under setMocks) the SDK's check resolves at once.
 */
export function requireCli(check?: VersionCheck): pulumi.Output<void> {
  return pulumi.output(checkCli(check));
}
