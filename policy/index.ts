// CrossGuard policy pack: `pulumi preview --policy-pack policy` (or `pulumi up --policy-pack policy`).
// Constructing the PolicyPack starts the policy server the Pulumi engine talks to, so the policies
// live in ./policies and tests import them from there.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("diy-device-cloud", { enforcementLevel: "mandatory", policies });
