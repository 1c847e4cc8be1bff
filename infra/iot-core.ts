// AWS IoT Core as the broker (stack setting `broker: iot-core`). Every MQTT identity of the stack (the web app, each
// device, each bridge connection; Home Assistant needs mosquitto, infra/config/iot-core.ts) is one diy:iot:Identity: a thing named after its client id, a key
// and CSR made here (the key stays in the stack's secret state, as with the stack CA), a certificate AWS IoT issues
// from that CSR, the identity's policies (infra/render/iot-policy.ts, from the same ACL model as mosquitto's
// acl_file) attached to the certificate, and the certificate attached to the thing exclusively. A revoked device's
// certificate is inactive (and its policy denies everything): that is revocation in this mode.
//
// AWS rules relied on (the mocks hold them: infra/aws-rules.ts and test/unit/aws-iot-double.ts):
// - CreateThing thingName [a-zA-Z0-9:_-]{1,128} (protocol/iot-core.ts iotThingName); CreatePolicy policyName
//   [\w+=,.@-]{1,128} (no ':'), policyDocument at most 2,048 characters without white space (AWS IoT API Reference).
// - CreateCertificateFromCsr: "The CSR must include a public key that is either an RSA key with a length of at least
//   2048 bits or an ECC key from NIST P-256, NIST P-384, or NIST P-521 curves" (@pulumi/tls defaults to P-224).
// - AttachThingPrincipal thingPrincipalType EXCLUSIVE_THING: the certificate can be attached to this thing only,
//   so ${iot:Connection.Thing.ThingName} always names the identity the certificate was made for.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { WEB_CLIENT_ID, bridgeIdentity, parseTopic } from "../protocol";
import type { Settings } from "./config";
import { LONGEST_IOT_ARN } from "./config/iot-core";
import { serviceRole } from "./iam";
import {
  type IotArnContext,
  type IotIdentity,
  iotIdentities,
  isRetainedTopic,
  policyGlob,
  renderIotPolicies,
} from "./render/iot-policy";
import { stackAclModel } from "./stack-acl";

/** A private key (secret) and the certificate AWS IoT issued for it. */
export interface IotKeyCert {
  keyPem: pulumi.Output<string>;
  certPem: pulumi.Output<string>;
}

/**
 * The name of an identity's n-th policy: its thing name with '.' for ':' (CreatePolicy refuses ':'). No thing name
 * holds a '.', so no two identities' policies can share a name.
 */
export function iotPolicyName(thingName: string, index: number): string {
  return `${thingName.replace(/:/g, ".")}.${index}`;
}

export interface IotIdentityArgs {
  identity: IotIdentity;
  /** The account's partition, region and id: the policies' ARNs. */
  arn: pulumi.Input<IotArnContext>;
  /** Changing it makes a new key, so a new CSR and certificate (stack setting certRotation). */
  rotation: string;
  tags: Record<string, string>;
}

export class IotIdentityResource extends pulumi.ComponentResource {
  readonly thingName: string;
  /** false for a revoked identity: IoT Core refuses its TLS handshake. */
  readonly active: boolean;
  readonly thing: aws.iot.Thing;
  readonly certificate: aws.iot.Certificate;
  readonly policies: aws.iot.Policy[];
  readonly keyCert: IotKeyCert;

  constructor(name: string, args: IotIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("diy:iot:Identity", name, {}, opts);
    const o: pulumi.CustomResourceOptions = { parent: this };
    const id = args.identity;
    this.thingName = id.thingName;
    // protocol's revokedRules: a revoked identity is denied everything by name; its certificate goes inactive.
    this.active = !id.rules.some((r) => r.access === "deny");

    // P-256: @pulumi/tls defaults ECDSA to P-224, which CreateCertificateFromCsr refuses.
    const key = new tls.PrivateKey(
      name,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      { ...o, replacementTrigger: args.rotation },
    );
    // AWS IoT ignores the request's subject (its certificates name "AWS IoT Certificate"); the protocol identity
    // and the rotation token keep the request readable and make a rotation a new request.
    const csr = new tls.CertRequest(
      name,
      {
        privateKeyPem: key.privateKeyPem,
        subject: {
          commonName: id.identity,
          organization: "DIY Device Cloud",
          organizationalUnit: `rotation ${args.rotation}`,
        },
      },
      o,
    );
    this.thing = new aws.iot.Thing(name, { name: id.thingName }, o);
    this.certificate = new aws.iot.Certificate(name, { csr: csr.certRequestPem, active: this.active }, o);

    // The number of documents is known now (split as at the longest ARN prefix), their ARNs once the account is.
    const count = renderIotPolicies(LONGEST_IOT_ARN, id).length;
    const documents = pulumi.output(args.arn).apply((ctx) => {
      const docs = renderIotPolicies(ctx, id, { packAs: LONGEST_IOT_ARN });
      if (docs.length !== count)
        throw new Error(`IoT policy of ${id.identity}: ${docs.length} documents, not ${count}`);
      return docs;
    });
    this.policies = Array.from({ length: count }, (_, i) => {
      const policy = new aws.iot.Policy(
        `${name}-${i}`,
        {
          name: iotPolicyName(id.thingName, i),
          policy: documents.apply((d) => JSON.stringify(d[i])),
          tags: args.tags,
        },
        o,
      );
      new aws.iot.PolicyAttachment(`${name}-${i}`, { policy: policy.name, target: this.certificate.arn }, o);
      return policy;
    });
    new aws.iot.ThingPrincipalAttachment(
      name,
      { thing: this.thing.name, principal: this.certificate.arn, thingPrincipalType: "EXCLUSIVE_THING" },
      o,
    );
    this.keyCert = { keyPem: pulumi.secret(key.privateKeyPem), certPem: this.certificate.certificatePem };
    this.registerOutputs({ thingName: id.thingName, active: this.active, certificateArn: this.certificate.arn });
  }
}

/**
 * The IAM policy of the web app's instance role: exactly what loading the start-up state needs (apps/web
 * iot-retained.ts). Service Authorization Reference, "Actions defined by AWS IoT": iot:GetRetainedMessage takes the
 * topic resource type (arn:${Partition}:iot:${Region}:${Account}:topic/${TopicName}), so it is scoped to the
 * retained topics the web app reads (its IoT policy's, with `*` for a device id or name); iot:ListRetainedMessages
 * supports no resource type, so its resource is "*".
 */
export function webRetainedReadPolicy(ctx: IotArnContext, web: IotIdentity): object {
  const reads = web.rules.filter((r) => r.access === "read" || r.access === "readwrite").map((r) => r.topic);
  const retained = reads.filter((t) => isRetainedTopic(t) && parseTopic(t) !== undefined).map(policyGlob);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["iot:GetRetainedMessage"],
        Resource: retained.map((t) => `arn:${ctx.partition}:iot:${ctx.region}:${ctx.accountId}:topic/${t}`),
      },
      { Effect: "Allow", Action: ["iot:ListRetainedMessages"], Resource: ["*"] },
    ],
  };
}

export interface IotCoreArgs {
  settings: Pick<Settings, "devices" | "revokedDevices" | "integrations" | "certRotation" | "tags">;
  /** protocol/iot-core.ts iotNamePrefix(project, stack). */
  thingPrefix: string;
}

/** The broker side of a stack on AWS IoT Core: its endpoint, every identity, and the web app's instance role. */
export class IotCore extends pulumi.ComponentResource {
  /** The account's ATS data endpoint host (iot:Data-ATS). */
  readonly endpoint: pulumi.Output<string>;
  readonly region: pulumi.Output<string>;
  readonly thingPrefix: string;
  readonly identities: IotIdentityResource[];
  readonly web: IotKeyCert;
  /** By device id. */
  readonly clients: Record<string, IotKeyCert>;
  /** By bridge board id. */
  readonly bridges: Record<string, IotKeyCert>;
  /** The web app's role, assumed by EC2 only (the instance profile hands it over through IMDSv2): only the
   * retained-message reads (webRetainedReadPolicy). */
  readonly webRole: aws.iam.Role;
  readonly webInstanceProfile: aws.iam.InstanceProfile;
  /** The instance profile's name, resolved once its role holds the policy (the instance waits for it). */
  readonly webInstanceProfileName: pulumi.Output<string>;

  constructor(name: string, args: IotCoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("diy:iot:Broker", name, {}, opts);
    const s = args.settings;
    const o: pulumi.CustomResourceOptions = { parent: this };
    this.thingPrefix = args.thingPrefix;
    this.endpoint = aws.iot.getEndpointOutput({ endpointType: "iot:Data-ATS" }, o).endpointAddress;
    this.region = aws.getRegionOutput({}, o).region;
    const arn: pulumi.Output<IotArnContext> = pulumi
      .all([aws.getPartitionOutput({}, o).partition, this.region, aws.getCallerIdentityOutput({}, o).accountId])
      .apply(([partition, region, accountId]) => ({ partition, region, accountId }));

    const ids = iotIdentities(stackAclModel(s), args.thingPrefix);
    const bridgeOf = new Map(s.devices.filter((d) => d.bridge).map((d) => [bridgeIdentity(d.id), d.id] as const));
    // Resource names as infra/pki.ts names the stack CA's identities: a bridge connection's cannot be a device's.
    const resourceName = (identity: string) =>
      bridgeOf.has(identity) ? `${name}-bridge-${bridgeOf.get(identity)}` : `${name}-client-${identity}`;
    this.identities = ids.map(
      (identity) =>
        new IotIdentityResource(
          resourceName(identity.identity),
          { identity, arn, rotation: s.certRotation, tags: s.tags },
          o,
        ),
    );
    const keyCertOf = (identity: string) => {
      const i = ids.findIndex((x) => x.identity === identity);
      const found = this.identities[i];
      if (!found) throw new Error(`IoT Core: no identity ${identity}`);
      return found.keyCert;
    };
    this.web = keyCertOf(WEB_CLIENT_ID);
    this.clients = Object.fromEntries(s.devices.map((d) => [d.id, keyCertOf(d.id)]));
    this.bridges = Object.fromEntries([...bridgeOf].map(([identity, id]) => [id, keyCertOf(identity)]));

    const web = ids.find((x) => x.identity === WEB_CLIENT_ID) as IotIdentity;
    const description = "DIY Device Cloud web app: reads the retained device state from AWS IoT Core";
    this.webRole = serviceRole(`${name}-web`, { service: "ec2.amazonaws.com", description, tags: s.tags }, o);
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-web-retained`,
      { role: this.webRole.name, policy: arn.apply((ctx) => JSON.stringify(webRetainedReadPolicy(ctx, web))) },
      o,
    );
    this.webInstanceProfile = new aws.iam.InstanceProfile(`${name}-web`, { role: this.webRole.name, tags: s.tags }, o);
    this.webInstanceProfileName = pulumi
      .all([this.webInstanceProfile.name, rolePolicy.id])
      .apply(([profileName]) => profileName);
    this.registerOutputs({ endpoint: this.endpoint, thingPrefix: this.thingPrefix });
  }
}
