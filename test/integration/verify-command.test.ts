// `npm run verify` run for real against a real deployment on this machine: the demo's mosquitto (rendered
// mosquitto.conf + ACL), web app and two simulated devices, behind nginx with the rendered site, reached
// the way the VM tier reaches its VMs (--host 127.0.0.1 with --map per forwarded port). Then each way a
// deployment can be wrong, made real, must fail the check that names it and only that one.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { renderMosquittoConf } from "../../infra/render/mosquitto";
import { renderNginxSite } from "../../infra/render/nginx";
import { createCa, issueCert } from "../../infra/render/x509";
import { type RunningDemo, startDemo } from "../../scripts/demo";
import { CHECK_NAMES, TEST_IOT_ROOTS_ENV } from "../../scripts/verify/options";
import { login } from "./web-harness";
import { nginxTree, siteOnLoopback } from "./daemons-support";
import { startMosquitto } from "../support/broker";
import { type IotEndpointStandIn, standInIotEndpoint } from "../support/iot-endpoint";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { type Daemon, giveToDaemon, runToEnd, shareWithDaemon, startDaemon, waitForPort } from "../support/daemon";

const repo = join(__dirname, "..", "..");

interface VerifyRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Check name -> its status word (PASS, FAIL, INFO, SKIP). */
  status: Map<string, string>;
  line: (name: string) => string;
  failed: () => string[];
}

/** Runs the documented command, `npm run verify -- ARGS`, and reads its lines back. */
async function runVerify(args: string[], env: NodeJS.ProcessEnv = {}): Promise<VerifyRun> {
  const { code, stdout, stderr } = await runToEnd("npm", ["run", "--silent", "verify", "--", ...args], {
    cwd: repo,
    env: { ...process.env, DIY_WEB_PASSWORD: "", ...env },
  });
  const status = new Map<string, string>();
  const lines = new Map<string, string>();
  for (const l of stdout.split("\n")) {
    const m = /^(PASS|FAIL|INFO|SKIP)\s+(device \S+|\S+)\s/.exec(l);
    if (m?.[1] && m[2]) {
      status.set(m[2], m[1]);
      lines.set(m[2], l);
    }
  }
  return {
    code,
    stdout,
    stderr,
    status,
    line: (name) => lines.get(name) ?? `(no line for ${name})`,
    failed: () => [...status].filter(([, s]) => s === "FAIL").map(([n]) => n),
  };
}

const show = (r: VerifyRun) => `exit ${r.code}\n${r.stdout}${r.stderr}`;

describe("npm run verify against a local deployment (nginx + mosquitto + web app + simulated devices)", () => {
  const tmp = tempDir("verify", { daemonsMayEnter: true });
  let demo: RunningDemo | undefined;
  let nginx: Daemon | undefined;
  let insecureBroker: Daemon | undefined;
  let outputs = "";
  let httpPort = 0;
  let httpsPort = 0;
  let webPort = 0;
  let closedPort = 0;
  /**
   * The server's ports as the VM tier passes them: everything through --host 127.0.0.1 and --map; and a per-attempt
   * timeout for a loaded machine. With the default 3 s, a verify process that stalled longer (two busy cores, nice
   * 10) read listening loopback ports as "filtered" and the healthy deployment failed: its timers had expired before
   * it got to the answers already there. No test here expects a timeout; a refused port still answers at once.
   */
  const forwarded = (overrides: Record<number, number> = {}) => {
    const map: Record<number, number> = {
      22: closedPort,
      80: httpPort,
      443: httpsPort,
      8883: demo?.broker.port ?? 0,
      ...overrides,
    };
    return [
      "--host",
      "127.0.0.1",
      ...Object.entries(map).flatMap(([p, l]) => ["--map", `${p}=${l}`]),
      "--timeout",
      "30000",
    ];
  };
  const writeOutputs = (name: string, values: Record<string, unknown>) => {
    const file = join(tmp.dir, name);
    writeFileSync(file, JSON.stringify(values, null, 2), { mode: 0o600 });
    return file;
  };

  /**
   * nginx with the site as the server gets it (renderNginxSite) and the demo's server certificate for 127.0.0.1, on
   * loopback ports; `alter` changes the rendered site first (a deployment made wrong).
   */
  const startNginx = async (name: string, http: number, https: number, alter = (site: string) => site) => {
    const pki = join(demo?.stateDir ?? "", "pki");
    const prefix = join(tmp.dir, name);
    mkdirSync(join(prefix, "tls"), { recursive: true });
    chmodSync(prefix, 0o755);
    const site = renderNginxSite({
      source: "verify integration test",
      serverName: "_",
      tls: { certificate: join(prefix, "tls", "server.pem"), certificateKey: join(prefix, "tls", "server.key") },
      upstream: { host: "127.0.0.1", port: webPort },
      acmeWebroot: join(prefix, "acme"),
    });
    writeFileSync(join(prefix, "tls", "server.pem"), readFileSync(join(pki, "server.pem")));
    writeFileSync(join(prefix, "tls", "server.key"), readFileSync(join(pki, "server.key")), { mode: 0o600 });
    const conf = nginxTree(prefix, siteOnLoopback(alter(site), http, https));
    const daemon = await startDaemon(
      "nginx",
      ["-c", conf, "-p", `${prefix}/`, "-e", `${prefix}/logs/error.log`, "-g", "daemon off;"],
      null,
    );
    await waitForPort(https, daemon);
    return daemon;
  };

  before(async () => {
    demo = await startDemo({ stateDir: join(tmp.dir, "demo"), brokerPort: 0, webPort: 0 });
    webPort = Number(new URL(demo.webUrl).port);
    [httpPort, httpsPort, closedPort] = [await freePort(), await freePort(), await freePort()];
    nginx = await startNginx("nginx", httpPort, httpsPort);
    // What `pulumi stack output --json --show-secrets` prints for an IP-only stack with a generated password.
    outputs = writeOutputs("outputs.json", {
      webUrl: "https://127.0.0.1",
      brokerEndpoint: "127.0.0.1:8883",
      publicIp: "127.0.0.1",
      sshCommand: "ssh -i admin.key admin@127.0.0.1",
      caCertPem: readFileSync(join(demo.stateDir, "pki", "ca.pem"), "utf8"),
      adminPrivateKey: "[secret]",
      webPassword: demo.password,
    });
  });

  after(async () => {
    await insecureBroker?.stop();
    await nginx?.stop();
    await demo?.stop();
    tmp.cleanup();
  });

  test("passes every check of a healthy deployment and exits 0, one line per check", async () => {
    const r = await runVerify(["--outputs", outputs, ...forwarded(), "--ssh", "closed"]);
    assert.equal(r.code, 0, show(r));
    // Every check by its printed name; "devices" prints one line per configured device.
    for (const name of [...CHECK_NAMES.filter((c) => c !== "devices"), "device pi1", "device bbb1", "live-socket"])
      assert.equal(r.status.get(name), "PASS", `${name}\n${show(r)}`);
    assert.match(r.line("ports"), /4 ports scanned: only 80, 443, 8883 answer/);
    assert.match(r.line("http-redirect"), /-> 301 https:\/\/127\.0\.0\.1\/verify-/);
    assert.match(r.line("tls-443"), /verifies against the stack CA .* for 127\.0\.0\.1, TLSv1\.[23], valid until/);
    assert.match(r.line("mqtt-anonymous"), /refused/);
    assert.match(r.line("api-login-required"), /GET \/api\/devices 401, GET \/api\/events 401, POST \S+ 401/);
    assert.match(
      r.line("live-socket"),
      /the page's live connection \(wss \/api\/live\) opened with the session and sent its snapshot \(2 devices, broker connected\)/,
    );
    assert.match(r.stdout, /^verify: 12 passed, 0 failed$/m);
    assert.ok(!r.stdout.includes(demo?.password ?? "?"), "the password is never printed");
  });

  test("fails ports when the web app answers from outside, and ssh when 22 must answer and does not", async () => {
    const r = await runVerify(["--outputs", outputs, ...forwarded({ 3000: webPort }), "--ssh", "open"]);
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(r.failed().sort(), ["ports", "ssh"], show(r));
    assert.match(r.line("ports"), /3000 answers but must not/);
    assert.match(r.line("ssh"), /22 does not answer \(closed\); from an address in adminCidrs it must answer/);
  });

  test("reports port 22 as INFO when it cannot know this machine's place in adminCidrs", async () => {
    const r = await runVerify(["--outputs", outputs, ...forwarded(), "--skip", "devices"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.status.get("ssh"), "INFO", show(r));
    assert.match(r.line("ssh"), /run with --ssh open/);
    assert.equal(r.status.get("devices"), "SKIP");
  });

  test("fails plain HTTP that serves the app instead of redirecting to HTTPS", async () => {
    const r = await runVerify(["--outputs", outputs, ...forwarded({ 80: webPort }), "--ssh", "closed"]);
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(r.failed(), ["http-redirect"], show(r));
    assert.match(r.line("http-redirect"), /answered 404, not a redirect to HTTPS/);
  });

  test("fails TLS on 443 and 8883 against a CA that is not the stack's, and then keeps the password to itself", async () => {
    const other = await createCa({ commonName: "some other CA", days: 1 });
    const file = writeOutputs("wrong-ca.json", {
      ...JSON.parse(readFileSync(outputs, "utf8")),
      caCertPem: other.certPem,
    });
    const r = await runVerify(["--outputs", file, ...forwarded(), "--ssh", "closed"]);
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(
      r.failed().sort(),
      ["api-login-required", "devices", "tls-443", "tls-8883", "web-page"],
      `nothing is asked of a server that does not verify\n${show(r)}`,
    );
    assert.match(
      r.line("tls-443"),
      /does not verify against the stack CA .*: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify)/,
    );
    assert.match(r.line("tls-8883"), /does not verify against the stack CA/);
    assert.match(r.line("devices"), /not checked: tls-443 did not pass, and the web password goes only to a server/);
    assert.equal(r.status.get("mqtt-anonymous"), "PASS", "the broker's refusals do not depend on the client's trust");
  });

  test("fails a domain's 443 that does not chain to the public trust store", async () => {
    // With a domain, nginx serves Let's Encrypt: the stack CA is not enough there.
    const file = writeOutputs("domain.json", {
      ...JSON.parse(readFileSync(outputs, "utf8")),
      webUrl: "https://localhost",
      brokerEndpoint: "localhost:8883",
    });
    const r = await runVerify(["--outputs", file, ...forwarded(), "--ssh", "closed", "--skip", "devices"]);
    assert.equal(r.code, 1, show(r));
    assert.equal(r.status.get("tls-443"), "FAIL", show(r));
    assert.match(r.line("tls-443"), /does not verify against the public trust store \(Let's Encrypt\)/);
    assert.equal(r.status.get("tls-8883"), "PASS", `MQTT keeps the stack CA with a domain\n${show(r)}`);
  });

  /**
   * A real mosquitto that lets anyone in, serving `tls`: the rendered mosquitto.conf with its client-certificate
   * lines turned into the classic mistake. Stopped by the caller (or after()).
   */
  const startInsecureBroker = async (name: string, tls: { cafile: string; certfile: string; keyfile: string }) => {
    assert.ok(demo);
    const data = join(tmp.dir, `${name}-data`);
    mkdirSync(data);
    giveToDaemon(data, "mosquitto");
    const port = await freePort();
    const rendered = renderMosquittoConf({
      source: "verify integration test: insecure on purpose",
      listener: { port, bindAddress: "127.0.0.1" },
      tls,
      aclFile: demo.broker.aclPath,
      persistenceDir: data,
      log: { to: "stderr" },
    });
    const insecure = rendered
      .replace(/^require_certificate true$/m, "require_certificate false")
      .replace(/^use_identity_as_username true$/m, "")
      // Bound client ids need a username, which an anonymous client has not: mosquitto refuses it (reason 135).
      .replace(/^use_username_as_clientid true$/m, "")
      .replace(/^allow_anonymous false$/m, "allow_anonymous true");
    assert.notEqual(insecure, rendered);
    const conf = join(tmp.dir, `${name}.conf`);
    writeFileSync(conf, insecure);
    insecureBroker = await startMosquitto(conf);
    return { port, stop: () => insecureBroker?.stop() };
  };

  test("fails mqtt-anonymous and mqtt-wrong-ca against a TLS listener that lets anyone in", async () => {
    assert.ok(demo);
    const pki = join(demo.stateDir, "pki");
    const { port, stop } = await startInsecureBroker("insecure", {
      cafile: join(pki, "ca.pem"),
      certfile: join(pki, "server.pem"),
      keyfile: join(pki, "server.key"),
    });
    const r = await runVerify(["--outputs", outputs, ...forwarded({ 8883: port }), "--ssh", "closed"]);
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(r.failed().sort(), ["mqtt-anonymous", "mqtt-wrong-ca"], show(r));
    assert.match(r.line("mqtt-anonymous"), /the broker ACCEPTED a client without a certificate/);
    await stop();
  });

  test("reads the outputs through the Pulumi CLI without --show-secrets, asking for the web password alone", async () => {
    // A stand-in for the pulumi CLI that keeps its documented output rules (pulumi/pulumi
    // pkg/cmd/pulumi/stack/stack_output.go): --json prints the outputs object, secrets as "[secret]"
    // unless --show-secrets; a named output prints that value alone; a missing one is an error.
    const bin = join(tmp.dir, "bin");
    mkdirSync(bin);
    const calls = join(tmp.dir, "pulumi-calls.log");
    const full = JSON.parse(readFileSync(outputs, "utf8")) as Record<string, unknown>;
    const secretNames = ["adminPrivateKey", "webPassword"];
    const masked = Object.fromEntries(
      Object.entries(full).map(([k, v]) => [k, secretNames.includes(k) ? "[secret]" : v]),
    );
    writeFileSync(join(tmp.dir, "masked.json"), JSON.stringify(masked));
    writeFileSync(join(tmp.dir, "shown.json"), JSON.stringify(full));
    writeFileSync(
      join(bin, "pulumi"),
      [
        "#!/usr/bin/env bash",
        `echo "$*" >> ${calls}`,
        'show=0; name=""; stack=""',
        'args=("$@"); for ((i=0; i<${#args[@]}; i++)); do a=${args[i]}',
        '  case "$a" in --show-secrets) show=1;; --json) ;; --stack) i=$((i+1)); stack=${args[i]};; stack|output) ;; *) name=$a;; esac',
        "done",
        '[ "$stack" = "dev" ] || { echo "error: no stack named \'$stack\' found" >&2; exit 255; }',
        `file=${tmp.dir}/masked.json; [ $show = 1 ] && file=${tmp.dir}/shown.json`,
        'if [ -z "$name" ]; then cat "$file"; exit 0; fi',
        `node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const v=o[process.argv[2]]; if (v===undefined) { console.error("error: current stack does not have output property \\x27"+process.argv[2]+"\\x27"); process.exit(255) } console.log(JSON.stringify(v))' "$file" "$name"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const r = await runVerify(["--stack", "dev", ...forwarded(), "--ssh", "closed"], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.status.get("device pi1"), "PASS", show(r));
    assert.deepEqual(readFileSync(calls, "utf8").trim().split("\n"), [
      "stack output --json --stack dev",
      "stack output webPassword --json --show-secrets --stack dev",
    ]);
  });

  test("fails the device check with the reason when the web password is wrong", async () => {
    const file = writeOutputs("no-password.json", {
      ...JSON.parse(readFileSync(outputs, "utf8")),
      webPassword: "[secret]",
    });
    const r = await runVerify(["--outputs", file, ...forwarded(), "--ssh", "closed"], {
      DIY_WEB_PASSWORD: "not-the-password",
    });
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(r.failed(), ["devices"], show(r));
    assert.match(r.line("devices"), /login refused \(401: wrong web password\)/);
  });

  describe("with broker iot-core: the server answers 80 and 443, the MQTT checks go to AWS IoT Core's endpoint", () => {
    // AWS is out of reach here: the endpoint is a local stand-in (test/support/iot-endpoint.ts: IoT Core's rules for
    // whom it admits, its certificate for the endpoint's name from a stand-in "Amazon" root), reached with
    // --broker-via, its root given by the documented test-only variable. The page and API behind nginx are the
    // demo's (its web app talks to the demo's mosquitto): verify sees only what the web server answers.
    const ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";
    let endpoint: IotEndpointStandIn | undefined;
    let iotOutputs = "";
    const roots = (file = endpoint?.caFile ?? "") => ({ [TEST_IOT_ROOTS_ENV]: file });
    const via = (port = endpoint?.port) => ["--broker-via", `127.0.0.1:${port}`];
    const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    /** verify with the iot-core outputs, the server's 8883 closed (as the security group leaves it), --ssh closed. */
    const onIotCore = (extra: string[], env: NodeJS.ProcessEnv = roots(), file = iotOutputs) =>
      runVerify(["--outputs", file, ...forwarded({ 8883: closedPort }), "--ssh", "closed", ...extra], env);
    const noDevices = ["--skip", "devices"];

    before(async () => {
      const dir = join(tmp.dir, "iot");
      mkdirSync(dir);
      const issuer = await createCa({ commonName: "AWS IoT issuer stand-in", days: 1 });
      endpoint = await standInIotEndpoint(dir, issuer.certPem, "diy-device-cloud-dev:web", { names: [ENDPOINT] });
      // What pulumi stack output --json prints for the same stack with broker iot-core (infra/index.ts).
      iotOutputs = writeOutputs("iot-core.json", {
        ...JSON.parse(readFileSync(outputs, "utf8")),
        broker: "iot-core",
        brokerEndpoint: `${ENDPOINT}:8883`,
      });
    });

    after(async () => {
      await endpoint?.close();
    });

    test("passes a healthy deployment: 8883 closed on the server; chain and refusals checked at the endpoint", async () => {
      assert.ok(endpoint);
      const refusedBefore = endpoint.refusedHandshakes.length;
      const r = await onIotCore(via());
      assert.equal(r.code, 0, show(r));
      for (const name of [...CHECK_NAMES.filter((c) => c !== "devices"), "device pi1", "device bbb1", "live-socket"])
        assert.equal(r.status.get(name), "PASS", `${name}\n${show(r)}`);
      assert.match(
        r.line("ports"),
        /4 ports scanned: only 80, 443 answer \(22: see ssh; 8883 closed: the broker is AWS IoT Core\)/,
      );
      assert.match(
        r.line("tls-8883"),
        new RegExp(
          `verifies against the test-only roots in \\S+ \\(${TEST_IOT_ROOTS_ENV}\\), not Amazon's for ${re(ENDPOINT)}, TLSv1\\.[23]`,
        ),
      );
      assert.match(r.line("mqtt-anonymous"), /a client without a certificate refused in the TLS handshake/);
      assert.match(r.line("mqtt-wrong-ca"), /a certificate from a CA made for this run refused in the TLS handshake/);
      // The refusals are the endpoint's own: the server's 8883 (closedPort) has nothing to refuse with.
      assert.ok(endpoint.refusedHandshakes.length - refusedBefore >= 2, endpoint.refusedHandshakes.join());
      assert.match(
        r.stdout,
        new RegExp(`^verify: .*; broker AWS IoT Core ${re(ENDPOINT)}:8883 via 127\\.0\\.0\\.1:${endpoint.port}$`, "m"),
      );
      assert.match(r.stderr, new RegExp(`${TEST_IOT_ROOTS_ENV} is set: .* For tests against a stand-in only`));
      assert.match(
        r.line("live-socket"),
        /the page's live connection \(wss \/api\/live\) opened with the session and sent its snapshot \(2 devices, broker connected\)/,
      );
      assert.match(r.stdout, /^verify: 12 passed, 0 failed$/m);
    });

    test("judges the server's ports by the outputs' broker: 8883 closed passes with iot-core, fails with mosquitto", async () => {
      // Only the server's checks, no --broker-via: what the outputs say decides whether 8883 is required.
      const mqtt = ["tls-8883", "mqtt-anonymous", "mqtt-wrong-ca"].flatMap((c) => ["--skip", c]);
      const iot = await onIotCore([...mqtt, ...noDevices], {});
      assert.equal(iot.code, 0, show(iot));
      assert.equal(iot.status.get("ports"), "PASS", show(iot));
      const mosquitto = await onIotCore([...mqtt, ...noDevices], {}, outputs);
      assert.equal(mosquitto.code, 1, show(mosquitto));
      assert.match(mosquitto.line("ports"), /8883 \(closed\) should answer and does not/);
    });

    test("fails ports when 8883 answers on the server: nothing may listen there with broker iot-core", async () => {
      // forwarded(): the server's 8883 is the demo's mosquitto, which a mosquitto stack requires.
      const r = await runVerify(["--outputs", iotOutputs, ...forwarded(), ...via(), "--ssh", "closed"], roots());
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.failed(), ["ports"], show(r));
      assert.match(r.line("ports"), /8883 answers but must not \(broker iot-core: no broker on the server\)/);
    });

    test("checks the endpoint's chain against Amazon's roots unless the test-only roots are given", async () => {
      const r = await onIotCore([...via(), ...noDevices], {});
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.failed(), ["tls-8883"], show(r));
      assert.match(
        r.line("tls-8883"),
        /does not verify against Amazon Root CA 1 and 3 \(infra\/trust\): .*\(issuer: Amazon Root CA stand-in\)/,
      );
      assert.equal(
        r.status.get("mqtt-anonymous"),
        "PASS",
        "the endpoint's refusals do not depend on the client's trust",
      );
      assert.equal(r.status.get("mqtt-wrong-ca"), "PASS");
      assert.doesNotMatch(r.stderr, /warning/);
    });

    test("fails tls-8883 when the endpoint's certificate is not for the endpoint the outputs name", async () => {
      const file = writeOutputs("iot-core-other.json", {
        ...JSON.parse(readFileSync(iotOutputs, "utf8")),
        brokerEndpoint: "z9y8x7w6v5u4t3-ats.iot.eu-west-1.amazonaws.com:8883",
      });
      const r = await onIotCore([...via(), ...noDevices], roots(), file);
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.failed(), ["tls-8883"], show(r));
      // Node checks the SNI name itself (tls.connect with servername), before verify's own identity check.
      assert.match(r.line("tls-8883"), /does not verify against the test-only roots .*: ERR_TLS_CERT_ALTNAME_INVALID/);
    });

    test("fails the MQTT checks when the endpoint cannot be reached: no answer is no refusal", async () => {
      const r = await onIotCore([...via(closedPort), ...noDevices]);
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.failed().sort(), ["mqtt-anonymous", "mqtt-wrong-ca", "tls-8883"], show(r));
      assert.match(r.line("mqtt-anonymous"), /could not reach the broker/);
    });

    test("fails mqtt-anonymous and mqtt-wrong-ca against an endpoint that lets anyone in", async () => {
      // A real mosquitto in the endpoint's place, with a certificate for its name from a stand-in "Amazon" root,
      // that asks no client for a certificate: what verify must catch, wherever the broker runs.
      const dir = join(tmp.dir, "lax-endpoint");
      mkdirSync(dir);
      const amazon = await createCa({ commonName: "Amazon Root CA stand-in (lax)", days: 1 });
      const cert = await issueCert(amazon, { commonName: ENDPOINT, kind: "server", dnsNames: [ENDPOINT], days: 1 });
      const tls = {
        cafile: join(dir, "roots.pem"),
        certfile: join(dir, "server.pem"),
        keyfile: join(dir, "server.key"),
      };
      writeFileSync(tls.cafile, amazon.certPem);
      writeFileSync(tls.certfile, cert.certPem);
      writeFileSync(tls.keyfile, cert.keyPem, { mode: 0o600 });
      shareWithDaemon(tls.keyfile, "mosquitto");
      const { port, stop } = await startInsecureBroker("lax-endpoint", tls);
      const r = await onIotCore([...via(port), ...noDevices], roots(tls.cafile));
      await stop();
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.failed().sort(), ["mqtt-anonymous", "mqtt-wrong-ca"], show(r));
      assert.match(r.line("mqtt-anonymous"), /the broker ACCEPTED a client without a certificate/);
      assert.equal(r.status.get("tls-8883"), "PASS", show(r));
    });

    test("refuses the test-only roots without --broker-via: a real endpoint is checked against Amazon's alone", async () => {
      const r = await onIotCore([]);
      assert.equal(r.code, 2, show(r));
      assert.match(
        r.stderr,
        new RegExp(`${TEST_IOT_ROOTS_ENV} is for tests against a stand-in endpoint reached with --broker-via`),
      );
      assert.equal(r.status.size, 0, "no check ran");
    });
  });

  test("fails live-socket, and only it, when nginx does not pass the page's WebSocket upgrade to the app", async () => {
    // The site without its `location = /api/live`: the upgrade falls to `location /api/`, which sends no Upgrade on.
    const [http, https] = [await freePort(), await freePort()];
    const withoutLive = await startNginx("nginx-without-live", http, https, (site) => {
      const cut = site.replace(/\n {4}location = \/api\/live \{[^}]*\}\n/, "\n");
      assert.notEqual(cut, site, "the live location was found and cut");
      return cut;
    });
    try {
      const r = await runVerify(["--outputs", outputs, ...forwarded({ 80: http, 443: https }), "--ssh", "closed"]);
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.failed(), ["live-socket"], show(r));
      assert.match(r.line("live-socket"), /answered 404 to the upgrade, not 101: nginx does not pass the upgrade/);
    } finally {
      await withoutLive.stop();
    }
  });

  test("fails the device that is offline, by name, and passes the one that is online", async () => {
    assert.ok(demo);
    await demo.devices[1]?.stop(); // bbb1 publishes its retained "offline" on the way out
    const session = await login(demo.webUrl, demo.password);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${demo.webUrl}/api/devices`, { headers: { cookie: session.cookie } });
      const body = (await res.json()) as { devices: { id: string; online: boolean | null }[] };
      if (body.devices.find((d) => d.id === "bbb1")?.online === false) break;
      if (Date.now() > deadline) assert.fail(`the web app never saw bbb1 offline: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await runVerify(["--outputs", outputs, ...forwarded(), "--ssh", "closed"]);
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(r.failed(), ["device bbb1"], show(r));
    assert.match(r.line("device bbb1"), /offline/);
    assert.equal(r.status.get("device pi1"), "PASS");
    assert.match(r.stdout, /^verify: 11 passed, 1 failed \(device bbb1\)$/m);
  });

  test("refuses bad usage and unreadable outputs with exit 2 and the fix", async () => {
    const none = await runVerify([]);
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /--stack NAME \(with the Pulumi CLI\) or --outputs FILE/);
    const bad = writeOutputs("bad.json", { webUrl: "https://127.0.0.1" });
    const r = await runVerify(["--outputs", bad]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /lacks what verify needs \(brokerEndpoint: missing; caCertPem: missing\)/);
    const help = await runVerify(["--help"]);
    assert.equal(help.code, 0);
    for (const opt of ["--outputs FILE", "--host ADDR", "--map PORT=LOCAL", "--ssh open|closed", "DIY_WEB_PASSWORD"])
      assert.ok(help.stdout.includes(opt), opt);
  });
});
