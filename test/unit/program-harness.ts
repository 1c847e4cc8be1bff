// Runs the Pulumi program under pulumi.runtime.setMocks: records every resource registration and invoke,
// and answers with real keys and certificates in @pulumi/tls's formats (./tls-double.ts), an Elastic IP, an
// AMI id. Like AWS, it refuses a resource whose names, descriptions or tags break EC2's documented rules
// (infra/aws-rules.ts). An error diagnostic the program logs (pulumi.log.error: a real `pulumi up` fails on
// it) fails the test in settle().
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { awsRefusals, formatRefusals } from "../../infra/aws-rules";
import { bundle } from "../../infra/bundle";
// Importing the component creates nothing: resources exist only once `new DeviceCloud` runs after setMocks.
import { DeviceCloud } from "../../infra/cloud";
import type { Settings } from "../../infra/config";
import { readStackFile } from "../../infra/stack-file";
import { settingsFrom } from "../support/settings";
import { awsAccountInvoke, iotCertificateState, iotResourceState } from "./aws-iot-double";
import { type AccountNetwork, mockId, NetworkDouble } from "./aws-network-double";
import { issuedSecrets, opensshEd25519Key, tlsState } from "./tls-double";

export interface Recorded {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped to their values. */
  inputs: Record<string, any>;
  /** Top-level input names whose value arrived as a secret. */
  secretInputs: string[];
  /** The inputs with every secret value (at any depth) shown as "[secret]": what a plain diff or the state shows. */
  plainInputs: Record<string, unknown>;
  state: Record<string, any>;
  /** The resource options the SDK sent to the engine with this registration (what decides replace vs update). */
  options: RegisteredOptions;
  /**
   * Bytes of the inputs as serialized for the engine (JSON of the RegisterResourceRequest's object): what the state
   * keeps for this resource's inputs (its outputs come on top). An asset counts as its path (the engine adds a hash).
   */
  inputBytes: number;
}

/** Options of a RegisterResourceRequest (pulumi/proto resource.proto) that decide how the engine diffs a resource. */
export interface RegisteredOptions {
  /** Property paths whose change replaces the resource, e.g. @pulumi/command registers ["triggers[*]"]. */
  replaceOnChanges: string[];
  ignoreChanges: string[];
  deleteBeforeReplace: boolean;
  /** URN of the resource whose deletion deletes this one (deletedWith). */
  deletedWith: string;
  retainOnDelete: boolean;
  /** URNs this resource depends on (dependsOn and input dependencies). */
  dependencies: string[];
  /** The replacementTrigger value as sent (undefined: none); the engine replaces the resource when it changes. */
  replacementTrigger?: unknown;
}

/** The mocks hand secret values over wrapped as { <signature>: <secret sig>, value }. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isWrapped = (v: unknown): v is { value: unknown } =>
  typeof v === "object" && v !== null && Object.values(v).includes(SECRET_SIG) && "value" in v;

/** The value with every secret in it replaced by "[secret]". */
function hideSecrets(v: unknown): unknown {
  if (isWrapped(v)) return "[secret]";
  if (Array.isArray(v)) return v.map(hideSecrets);
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hideSecrets(x)]));
  return v;
}

export function unwrapSecrets(v: unknown): any {
  if (isWrapped(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

export const MOCK_IP = "203.0.113.10";
/**
 * The example stack file with every kind of board (a Pi, a BeagleBone, a bridge with a child) and alert mail; the
 * dev stack file is the one-Pi quickstart.
 */
export const FULL_EXAMPLE = "Pulumi.example-full.yaml";
export const MOCK_REGION = "eu-central-1";
/** The server host key the mocked console lookup finds (a well-formed ed25519 key line). */
export const MOCK_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockServerHostKeyFromTheEc2ConsoleOutput0";
/** The type token of infra/server-host-key.ts's dynamic resource (pulumi-nodejs:dynamic/<module>:<type>). */
export const SERVER_HOST_KEY_TYPE = "pulumi-nodejs:dynamic/diy:ServerHostKey";
/** The image id the AMI lookup answers for a name pattern and architecture (one per OS and architecture). */
export function mockAmiId(namePattern: string, architecture: string): string {
  return `ami-${createHash("sha256").update(`${namePattern} ${architecture}`).digest("hex").slice(0, 17)}`;
}
/**
 * Every secret a test passes in as config (passwords, tokens) contains this marker; generated keys cannot
 * (they are real), so secretLeaks() also looks for their key material.
 */
export const SECRET_MARKER = "MOCKSECRET";

async function mockState(type: string, name: string, inputs: Record<string, any>): Promise<Record<string, any>> {
  const tls = await tlsState(type, name, inputs);
  if (tls) return tls;
  if (type === "aws:iot/certificate:Certificate") return iotCertificateState(name, inputs, MOCK_REGION);
  const iot = iotResourceState(type, name, inputs, MOCK_REGION);
  if (iot) return iot;
  switch (type) {
    case "aws:ec2/eip:Eip":
      return { publicIp: MOCK_IP, allocationId: `eipalloc-${name}` };
    case "aws:ec2/vpc:Vpc":
      // assignGeneratedIpv6CidrBlock: Amazon assigns a /56 (here from the documentation prefix).
      return inputs.assignGeneratedIpv6CidrBlock ? { ipv6CidrBlock: "2001:db8:4d:e600::/56" } : {};
    case "random:index/randomPassword:RandomPassword":
      return { result: `${SECRET_MARKER}pw${name.replace(/[^A-Za-z0-9]/g, "")}` };
    case "aws:ec2/keyPair:KeyPair":
      return { keyName: `${name}-key` };
    case "aws:ec2/instance:Instance":
      // EC2 ARNs name the region and account (arn:aws:ec2:<region>:<account>:instance/<id>).
      return {
        publicIp: "198.51.100.99",
        privateIp: "172.31.0.10",
        arn: `arn:aws:ec2:${MOCK_REGION}:123456789012:instance/${name}-id`,
      };
    case SERVER_HOST_KEY_TYPE:
      // What infra/server-host-key.ts's provider returns after reading the console: the pinned key line.
      return { hostKey: MOCK_HOST_KEY, hostKeyType: "ssh-ed25519", fingerprint: "SHA256:mockfingerprint" };
    case "aws:iam/role:Role": {
      // IAM auto-names a role "<resource name>-<7 hex>" when the program names none (the provider's auto-naming).
      const roleName = inputs.name ?? `${name}-0a1b2c3`;
      return { name: roleName, arn: `arn:aws:iam::123456789012:role/${roleName}` };
    }
    default:
      return {};
  }
}

/**
 * The physical name the provider gives a resource when the program names none: the AWS provider auto-names
 * `name`/`keyName` as "<resource name>-<7 hex>" (pulumi-terraform-bridge's default auto-naming).
 */
function autoNamed(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  const property = { "aws:ec2/securityGroup:SecurityGroup": "name", "aws:ec2/keyPair:KeyPair": "keyName" }[type];
  if (!property || inputs[property] !== undefined) return inputs;
  return { ...inputs, [property]: `${name}-0a1b2c3` };
}

export interface Harness {
  resources: Recorded[];
  /** Registrations the double refused the way AWS would (type, name and the error). */
  refused: { type: string; name: string; error: string }[];
  calls: pulumi.runtime.MockCallArgs[];
  ofType(type: string): Recorded[];
}

export interface MockWorld extends AccountNetwork {
  /**
   * The resources of the previous `pulumi up` (another harness's `resources`): stateful resources answer from it,
   * as the engine answers from the stack's state. Without it every resource is created fresh.
   */
  previous?: readonly Recorded[];
  /** The id the AMI lookup answers (a newer image published since the previous run gets a new id). */
  amiId?: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * pulumi:index:Stash, the engine's builtin (Pulumi docs, "Stash"): created, its `output` is its `input`; later runs
 * keep the saved `output` whatever the new `input` is, until the stash is replaced (here: its replacementTrigger
 * changed), which saves the current input again.
 */
function stashOutput(
  name: string,
  inputs: Record<string, any>,
  options: RegisteredOptions,
  previous: readonly Recorded[] | undefined,
): unknown {
  const prior = previous?.find((r) => r.type === "pulumi:index:Stash" && r.name === name);
  if (!prior) return inputs.input;
  return same(prior.options.replacementTrigger, options.replacementTrigger) ? prior.state.output : inputs.input;
}

/** Error diagnostics the program logged since the mocks were installed. */
export const loggedErrors: string[] = [];
let errorLogWrapped = false;

/** Records pulumi.log.error calls (still logging them) so settle() can fail the test on any. */
function recordErrorDiagnostics(): void {
  if (errorLogWrapped) return;
  errorLogWrapped = true;
  const log = pulumi.log as { error: typeof pulumi.log.error };
  const original = log.error;
  log.error = (msg, ...rest) => {
    loggedErrors.push(msg);
    return original(msg, ...rest);
  };
}

/**
 * A key or certificate from the previous run: the engine keeps a resource's outputs while its inputs and its
 * replacementTrigger stay the same (then the provider is not called again); tls outputs are random, so without
 * this a second evaluation would change every key and certificate.
 */
function keptTlsState(
  type: string,
  name: string,
  inputs: Record<string, any>,
  options: RegisteredOptions,
  previous: readonly Recorded[] | undefined,
): Record<string, any> | undefined {
  if (!type.startsWith("tls:")) return undefined;
  const prior = previous?.find((r) => r.type === type && r.name === name);
  if (!prior || !same(prior.inputs, inputs) || !same(prior.options.replacementTrigger, options.replacementTrigger))
    return undefined;
  return prior.state;
}

export function installMocks(project = "diy-device-cloud", stack = "dev", world: MockWorld = {}): Harness {
  const resources: Recorded[] = [];
  const refused: Harness["refused"] = [];
  const calls: pulumi.runtime.MockCallArgs[] = [];
  const registered = new Map<string, Registration>();
  const network = new NetworkDouble(world, resources);
  recordErrorDiagnostics();
  pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const reg = registered.get(`${args.type}::${args.name}`);
        const inputs = autoNamed(args.type, args.name, unwrapSecrets(args.inputs) as Record<string, any>);
        // The engine sends the provider the state's value of every ignoreChanges property of a resource that
        // exists (pulumi/pulumi#2657: "replaces the values of input properties in the goal state with old inputs").
        const prior = world.previous?.find((r) => r.type === args.type && r.name === args.name);
        for (const k of reg?.options.ignoreChanges ?? []) if (prior && !k.includes(".")) inputs[k] = prior.inputs[k];
        // An asset or archive arrives as an object whose path is a Promise: keep its serialized form (sig + path).
        for (const [k, v] of Object.entries(inputs))
          if (pulumi.asset.Asset.isInstance(v) || pulumi.asset.Archive.isInstance(v)) inputs[k] = reg?.wire[k];
        const refusals = awsRefusals(args.type, inputs);
        const placement = network.refusal(args.type, inputs);
        if (refusals.length > 0 || placement) {
          const error = `${args.type} ${args.name}: ${[formatRefusals(refusals), placement].filter(Boolean).join("\n")}`;
          refused.push({ type: args.type, name: args.name, error });
          throw new Error(error);
        }
        const secretInputs = Object.keys(args.inputs).filter((k) => isWrapped(args.inputs[k]));
        const options = reg?.options ?? NO_OPTIONS;
        const state = keptTlsState(args.type, args.name, inputs, options, world.previous) ?? {
          ...inputs,
          ...(await mockState(args.type, args.name, inputs)),
        };
        if (args.type === "pulumi:index:Stash") state.output = stashOutput(args.name, inputs, options, world.previous);
        const inputBytes = Buffer.byteLength(JSON.stringify(reg?.wire ?? {}));
        const plainInputs = hideSecrets(args.inputs) as Record<string, unknown>;
        resources.push({
          type: args.type,
          name: args.name,
          inputs,
          secretInputs,
          plainInputs,
          state,
          options,
          inputBytes,
        });
        return { id: mockId(args.type, args.name), state };
      },
      call(args) {
        calls.push(args);
        const answer = network.call(args.token, args.inputs) ?? awsAccountInvoke(args.token, args.inputs, MOCK_REGION);
        if (answer) return answer;
        if (args.token === "aws:ec2/getAmi:getAmi") {
          // EC2 answers with an image matching the filters: the architecture asked for.
          const filters = (args.inputs.filters ?? []) as { name: string; values: string[] }[];
          const architecture = filters.find((f) => f.name === "architecture")?.values[0] ?? "x86_64";
          const pattern = filters.find((f) => f.name === "name")?.values[0] ?? "";
          return { id: world.amiId ?? mockAmiId(pattern, architecture), architecture, name: "mock" };
        }
        return args.inputs;
      },
    },
    project,
    stack,
    false,
  );
  recordRegistrationOptions(registered);
  return { resources, refused, calls, ofType: (t) => resources.filter((r) => r.type === t) };
}

const NO_OPTIONS: RegisteredOptions = {
  replaceOnChanges: [],
  ignoreChanges: [],
  deleteBeforeReplace: false,
  deletedWith: "",
  retainOnDelete: false,
  dependencies: [],
};

interface Registration {
  options: RegisteredOptions;
  /** The inputs as the SDK serialized them for the engine. */
  wire: Record<string, unknown>;
}

/** The slice of pulumi's generated RegisterResourceRequest (proto/resource_pb.js) read here. */
interface RegisterResourceRequest {
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getType(): string;
  getName(): string;
  getReplaceonchangesList(): string[];
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
  getDeletedwith(): string;
  getRetainondelete(): boolean;
  getDependenciesList(): string[];
  getReplacementTrigger(): { toJavaScript(): unknown } | undefined;
}

/**
 * setMocks' newResource sees only type, name and inputs; the options that decide whether the engine updates or
 * replaces a resource (replaceOnChanges, deleteBeforeReplace, ...) travel in the same RegisterResourceRequest.
 * Wrapping the mock monitor's registerResource records them exactly as the SDK sent them (including the ones a
 * provider SDK adds itself, such as @pulumi/command's replaceOnChanges ["triggers[*]"]).
 */
function recordRegistrationOptions(registered: Map<string, Registration>): void {
  const monitor = (pulumi.runtime as unknown as { getMonitor(): Record<string, unknown> }).getMonitor();
  const original = monitor.registerResource as (req: RegisterResourceRequest, cb: unknown) => unknown;
  monitor.registerResource = (req: RegisterResourceRequest, cb: unknown) => {
    registered.set(`${req.getType()}::${req.getName()}`, {
      options: {
        replaceOnChanges: req.getReplaceonchangesList(),
        ignoreChanges: req.getIgnorechangesList(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        deletedWith: req.getDeletedwith(),
        retainOnDelete: req.getRetainondelete(),
        dependencies: req.getDependenciesList(),
        replacementTrigger: req.getReplacementTrigger()?.toJavaScript(),
      },
      wire: req.getObject()?.toJavaScript() ?? {},
    });
    return original.call(monitor, req, cb);
  };
}

/** Sets the stack config the program reads (keys with namespace); secretKeys are marked secret. */
export function setConfig(all: Record<string, string>, secretKeys: string[] = []): void {
  pulumi.runtime.setAllConfig(all, secretKeys);
}

export function value<T>(o: pulumi.Output<T> | T): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

export function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(o);
}

/**
 * Waits for these outputs (if any) and until every resource registration the program started has reached the
 * mocks, then fails if the program logged an error diagnostic: `pulumi up` would fail on it, so no program test
 * may pass with one. (Not broker-side waiting: that is letMessagesArrive in test/support/wait.ts.)
 */
export async function settle(...outputs: pulumi.Output<unknown>[]): Promise<void> {
  await Promise.all(outputs.map((o) => value(o)));
  // waitForRPCs is what pulumi's own `disconnect` awaits; it is exported but marked internal.
  const wait = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (wait) await wait();
  await new Promise((r) => setImmediate(r));
  if (loggedErrors.length > 0 || pulumi.log.hasErrors())
    throw new Error(`the program logged error diagnostics (pulumi up fails on them):\n  ${loggedErrors.join("\n  ")}`);
}

export interface Deployment {
  h: Harness;
  cloud: DeviceCloud;
  settings: Settings;
}

/**
 * One `pulumi up` of the program under fresh mocks: DeviceCloud `name` (default "iot") for the raw stack config as
 * the program reads it (settingsFrom), in `world`; returns once the server push, each device's install and every
 * registration have reached the mocks (settle). Bundles default to stand-ins, the device bundle to the real one.
 */
export async function deployCloud(
  raw: Record<string, unknown>,
  opts: { name?: string; world?: MockWorld; webBundle?: string; deviceBundle?: string } = {},
): Promise<Deployment> {
  const h = installMocks("diy-device-cloud", "dev", opts.world ?? {});
  const settings = settingsFrom(raw);
  const cloud = new DeviceCloud(opts.name ?? "iot", {
    settings,
    webBundle: opts.webBundle ?? "console.log('web');\n",
    deviceBundle: opts.deviceBundle ?? bundle("device").code,
  });
  await settle(cloud.server.push.urn, ...cloud.devices.map((d) => d.install.urn));
  return { h, cloud, settings };
}

/** A real ED25519 key in OpenSSH format: what `deviceSshPrivateKey` holds on a real stack. */
export const TEST_SSH_KEY = opensshEd25519Key("deviceSshPrivateKey");

const FULL_EXAMPLE_PATH = path.resolve(__dirname, "../..", FULL_EXAMPLE);

/** The full example stack's config as parseSettings reads it (keys without namespace), with its two secrets set. */
export function fullExampleRaw(): Record<string, unknown> {
  return {
    ...readStackFile(FULL_EXAMPLE_PATH).raw,
    deviceSshPrivateKey: TEST_SSH_KEY,
    smtpPassword: `${SECRET_MARKER}-smtp`,
  };
}

/**
 * A stack config with `count` Raspberry Pis (pi0, pi1, ...), each with an LED on GPIO17 and whatever `device` adds
 * (inputs, sensors): the fleet the state-size test and the scaling benchmark grow.
 */
export function piFleetRaw(count: number, device: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    adminCidrs: '["198.51.100.7/32"]',
    deviceSshPrivateKey: TEST_SSH_KEY,
    devices: JSON.stringify(
      Array.from({ length: count }, (_, i) => ({
        id: `pi${i}`,
        host: `pi${i}.lan`,
        board: "raspberrypi",
        outputs: [{ name: "led", backend: { type: "gpiod", line: "GPIO17" } }],
        ...device,
      })),
    ),
  };
}

/**
 * Sets the full example stack's config as `pulumi up` hands it to the program (namespaced keys, its two secrets
 * marked secret), plus `extra` plain keys (aws:region, ...). Then the program may be loaded.
 */
export function setFullExampleConfig(extra: Record<string, string> = {}): void {
  const { all } = readStackFile(FULL_EXAMPLE_PATH);
  const secrets = {
    "diy-device-cloud:deviceSshPrivateKey": TEST_SSH_KEY,
    "diy-device-cloud:smtpPassword": `${SECRET_MARKER}-smtp-password`,
  };
  setConfig({ ...all, ...extra, ...secrets }, Object.keys(secrets));
}

/**
 * Names of the secrets found in text: SECRET_MARKER, any PEM private key, or the private part of any key
 * generated for the mocks (verbatim, re-wrapped, or inside a base64 blob such as a pushed file).
 */
export function secretLeaks(text: string): string[] {
  const found = new Set<string>();
  if (text.includes(SECRET_MARKER)) found.add(SECRET_MARKER);
  if (/PRIVATE KEY/.test(text)) found.add("a PEM private key");
  const flat = (t: string) => t.replace(/\\n|\s/g, "");
  // Base64 runs (lines of a file pushed as base64), decoded at each of the four possible alignments.
  const decoded = (text.match(/(?:[A-Za-z0-9+/]{16,}={0,2}(?:\\n|\s)*)+/g) ?? []).flatMap((run) =>
    [0, 1, 2, 3].map((skip) => Buffer.from(flat(run).slice(skip), "base64").toString("latin1")),
  );
  const haystacks = [flat(text), ...decoded.map(flat)];
  for (const s of issuedSecrets) {
    if (haystacks.some((h) => h.includes(secretNeedle(s)))) found.add(s.name);
  }
  return [...found];
}

/** 20 base64 characters of a key's PEM body that encode only bytes of its private part. */
function secretNeedle(s: { pem: string; secretBytes: Buffer }): string {
  const body = s.pem.replace(/-----[^-]+-----/g, "").replace(/\s/g, "");
  const der = Buffer.from(body, "base64");
  // Its last 28 bytes: an mpint drops a leading zero byte, so the first ones may be missing.
  const at = der.indexOf(s.secretBytes.subarray(s.secretBytes.length - 28));
  if (at < 0) throw new Error("tls double: the private part is not in its own PEM");
  const start = Math.ceil(at / 3) * 3; // a base64 group boundary inside the secret
  return body.slice((start / 3) * 4, (start / 3) * 4 + 20);
}
