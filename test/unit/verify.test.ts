// The pure half of `npm run verify`: the command line, the stack outputs, and every verdict rule. The
// network half runs for real in test/integration/verify-command.test.ts.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  CHECK_NAMES,
  DEFAULT_SCAN_PORTS,
  HELP,
  parsePortList,
  parseVerifyArgs,
  portsToScan,
  TEST_IOT_ROOTS_ENV,
  UsageError,
} from "../../scripts/verify/options";
import { OutputsError, parseOutputs, targetFromOutputs } from "../../scripts/verify/outputs";
import { hostHeader } from "../../scripts/verify/probes";
import { exitCode, formatResult, summary } from "../../scripts/verify/report";
import {
  outputArgs,
  passwordConfigArgs,
  passwordOutputArgs,
  type PulumiRunner,
  readOutputsFile,
  readOutputsFromStack,
  webPasswordFromStack,
} from "../../scripts/verify/sources";
import { AMAZON_ROOTS_LABEL, brokerTrust, STACK_CA_LABEL } from "../../scripts/verify/trust";
import { iotCoreCaBundle } from "../../infra/amazon-root-ca";
import {
  apiVerdict,
  classifyMqttAttempt,
  deviceVerdicts,
  type LiveSeen,
  mqttRefusalVerdict,
  portsVerdict,
  redirectVerdict,
  serverPublicPorts,
  shortError,
  sshBanner,
  sshVerdict,
  tlsVerdict,
  webPageVerdict,
} from "../../scripts/verify/verdicts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const OUTPUTS = { webUrl: "https://203.0.113.10", brokerEndpoint: "203.0.113.10:8883", caCertPem: CA };

describe("verify command line", () => {
  const usage = (argv: string[]) => () => parseVerifyArgs(argv);

  it("reads a stack or an outputs file, never both or neither", () => {
    assert.deepEqual(parseVerifyArgs(["--stack", "org/prod"]), {
      source: { kind: "stack", stack: "org/prod" },
      host: undefined,
      portMap: new Map(),
      scanPorts: undefined,
      ssh: "unknown",
      timeoutMs: 3000,
      skip: new Set(),
    });
    assert.throws(usage([]), /--stack NAME \(with the Pulumi CLI\) or --outputs FILE/);
    assert.throws(usage(["--stack", "dev", "--outputs", "o.json"]), /not both/);
    assert.throws(usage(["--stack"]), /--stack needs a value/);
    assert.throws(usage(["--stack", "dev; rm -rf /"]), /is not a stack name/);
  });

  it("takes forwarded ports as --host plus --map PORT=LOCAL, the way the VM tier reaches its VMs", () => {
    const opts = parseVerifyArgs([
      "--outputs",
      "o.json",
      "--host",
      "127.0.0.1",
      "--map",
      "443=20443",
      "--map",
      "22=2222",
    ]);
    assert.notEqual(opts, "help");
    if (opts === "help") return;
    assert.deepEqual(
      [...opts.portMap],
      [
        [443, 20443],
        [22, 2222],
      ],
    );
    assert.deepEqual(portsToScan(opts), [22, 443], "with a map, the scan covers exactly the forwarded ports");
    assert.deepEqual(portsToScan({ portMap: new Map(), scanPorts: undefined }), [...DEFAULT_SCAN_PORTS]);
    assert.deepEqual(portsToScan({ portMap: opts.portMap, scanPorts: [80] }), [80]);
    assert.throws(usage(["--outputs", "o", "--map", "443=8443"]), /--map needs --host/);
    assert.throws(usage(["--outputs", "o", "--host", "h", "--map", "443:8443"]), /must be PORT=LOCAL/);
    assert.throws(usage(["--outputs", "o", "--host", "h", "--map", "443=70000"]), /not a port/);
  });

  it("takes --broker-via HOST:PORT for an IoT Core endpoint reached another way, IPv6 in brackets", () => {
    const opts = parseVerifyArgs(["--outputs", "o.json", "--broker-via", "127.0.0.1:18883"]);
    assert.notEqual(opts, "help");
    if (opts === "help") return;
    assert.deepEqual(opts.brokerVia, { host: "127.0.0.1", port: 18883 });
    const v6 = parseVerifyArgs(["--outputs", "o.json", "--broker-via", "[::1]:8883"]);
    assert.deepEqual(v6 !== "help" && v6.brokerVia, { host: "::1", port: 8883 });
    assert.throws(
      usage(["--outputs", "o", "--broker-via", "127.0.0.1"]),
      /--broker-via: "127.0.0.1" must be HOST:PORT/,
    );
    assert.throws(usage(["--outputs", "o", "--broker-via", "h:0"]), /--broker-via: "0" is not a port/);
    assert.ok(!("brokerVia" in (parseVerifyArgs(["--outputs", "o"]) as object)), "absent unless given");
  });

  it("parses port lists with ranges, and refuses nonsense with the option's name", () => {
    assert.deepEqual(parsePortList("20-23,80,22"), [20, 21, 22, 23, 80]);
    assert.throws(() => parsePortList("100-10"), /runs backwards; write 10-100/);
    assert.throws(() => parsePortList("0"), /--port: "0" is not a port/);
    assert.throws(usage(["--outputs", "o", "--ssh", "maybe"]), /must be open or closed/);
    assert.throws(usage(["--outputs", "o", "--skip", "everything"]), /no check "everything"; checks are ports, ssh/);
    assert.throws(usage(["--outputs", "o", "--timeout", "5"]), /between 100 and 120000/);
    assert.throws(usage(["--outputs", "o", "--password", "x"]), UsageError, "no password on the command line");
    assert.equal(parseVerifyArgs(["--help"]), "help");
  });
});

describe("verify stack outputs", () => {
  it("derives one target from the outputs: the name TLS must verify, and the address to dial", () => {
    const t = targetFromOutputs(parseOutputs(JSON.stringify(OUTPUTS), "f"), { portMap: new Map() });
    assert.equal(t.webName, "203.0.113.10");
    assert.equal(t.webHasDomain, false);
    assert.equal(t.connectHost, "203.0.113.10");
    assert.equal(t.brokerPort, 8883);
    assert.equal(t.port(443), 443);
    const fwd = targetFromOutputs(parseOutputs(JSON.stringify(OUTPUTS), "f"), {
      host: "127.0.0.1",
      portMap: new Map([[443, 20443]]),
    });
    assert.equal(fwd.connectHost, "127.0.0.1");
    assert.equal(fwd.webName, "203.0.113.10", "TLS still checks the deployment's name");
    assert.equal(fwd.port(443), 20443);
    assert.equal(fwd.port(80), 80);
  });

  it("treats a domain as Let's Encrypt on 443 and reads bracketed IPv6 addresses", () => {
    const d = targetFromOutputs(
      parseOutputs(
        JSON.stringify({ ...OUTPUTS, webUrl: "https://iot.example.com", brokerEndpoint: "iot.example.com:8883" }),
        "f",
      ),
      { portMap: new Map() },
    );
    assert.equal(d.webHasDomain, true);
    const v6 = targetFromOutputs(
      parseOutputs(
        JSON.stringify({ ...OUTPUTS, webUrl: "https://[2001:db8::1]", brokerEndpoint: "[2001:db8::1]:8883" }),
        "f",
      ),
      { portMap: new Map() },
    );
    assert.equal(v6.webName, "2001:db8::1");
    assert.equal(v6.webHasDomain, false);
  });

  it("reads the broker from the outputs: mosquitto on the server, iot-core at its own endpoint", () => {
    const read = (o: object, opts: Partial<Parameters<typeof targetFromOutputs>[1]> = {}) =>
      targetFromOutputs(parseOutputs(JSON.stringify({ ...OUTPUTS, ...o }), "f"), { portMap: new Map(), ...opts });
    const mosquitto = read({ broker: "mosquitto" }, { host: "127.0.0.1", portMap: new Map([[8883, 18883]]) });
    assert.equal(mosquitto.broker, "mosquitto");
    assert.deepEqual(mosquitto.brokerDial, { host: "127.0.0.1", port: 18883 }, "the server's (forwarded) 8883");
    assert.equal(read({}).broker, "mosquitto", "outputs from before the broker output: the server's own name");
    const endpoint = "a1b2c3-ats.iot.eu-west-1.amazonaws.com";
    const iot = read(
      { broker: "iot-core", brokerEndpoint: `${endpoint}:8883` },
      { host: "127.0.0.1", portMap: new Map([[8883, 18883]]) },
    );
    assert.equal(iot.broker, "iot-core");
    assert.equal(iot.brokerName, endpoint, "TLS verifies the endpoint's name");
    assert.deepEqual(iot.brokerDial, { host: endpoint, port: 8883 }, "not the server, whatever --host and --map say");
    assert.equal(iot.connectHost, "127.0.0.1");
    const via = read(
      { broker: "iot-core", brokerEndpoint: `${endpoint}:8883` },
      { brokerVia: { host: "127.0.0.1", port: 28883 } },
    );
    assert.deepEqual(via.brokerDial, { host: "127.0.0.1", port: 28883 });
    assert.equal(via.brokerName, endpoint);
    assert.throws(
      () => read({ broker: "mosquitto" }, { brokerVia: { host: "127.0.0.1", port: 28883 } }),
      /--broker-via is for broker iot-core.*--map 8883=PORT/,
    );
    assert.throws(
      () => read({ brokerEndpoint: `${endpoint}:8883` }),
      /name no broker, and brokerEndpoint \(a1b2c3-ats\.iot\.eu-west-1\.amazonaws\.com\) is AWS IoT Core's: run pulumi up once/,
    );
    assert.throws(
      () => read({ broker: "rabbitmq" }),
      /lacks what verify needs \(broker: Invalid option: expected one of "mosquitto"\|"iot-core"\)/,
    );
  });

  it("never takes a masked secret for a password", () => {
    const o = parseOutputs(JSON.stringify({ ...OUTPUTS, webPassword: "[secret]" }), "f");
    assert.equal(o.webPassword, undefined);
    assert.equal(targetFromOutputs(o, { portMap: new Map() }).webPassword, undefined);
  });

  it("says what is missing or wrong, and how to get the outputs", () => {
    assert.throws(
      () => parseOutputs("Current stack outputs (3):", "o.json"),
      /o\.json is not JSON .* pulumi stack output --json/,
    );
    assert.throws(() => parseOutputs("[]", "o.json"), /must be a JSON object/);
    assert.throws(
      () => parseOutputs('{"webUrl":"https://x"}', "o.json"),
      /lacks what verify needs \(brokerEndpoint: missing; caCertPem: missing\)/,
    );
    const target = (o: object) => () =>
      targetFromOutputs(parseOutputs(JSON.stringify({ ...OUTPUTS, ...o }), "f"), { portMap: new Map() });
    assert.throws(target({ webUrl: "http://203.0.113.10" }), OutputsError);
    assert.throws(target({ webUrl: "https://203.0.113.10:8443" }), /names port 8443/);
    assert.throws(target({ brokerEndpoint: "203.0.113.10" }), /must be HOST:PORT/);
    assert.throws(target({ brokerEndpoint: "198.51.100.1:8883" }), /name different hosts; .* --host/);
  });
});

describe("verify verdicts", () => {
  it("passes a scan where only 80, 443 and 8883 (and 22) answer", () => {
    const r = portsVerdict([
      { port: 22, state: "open" },
      { port: 25, state: "filtered" },
      { port: 80, state: "open" },
      { port: 443, state: "open" },
      { port: 8883, state: "open" },
    ]);
    assert.deepEqual(r, {
      status: "PASS",
      name: "ports",
      detail: "5 ports scanned: only 80, 443, 8883 answer (22: see ssh)",
    });
  });

  it("with broker iot-core wants 80 and 443 on the server and 8883 silent", () => {
    assert.deepEqual(serverPublicPorts("mosquitto"), [80, 443, 8883]);
    assert.deepEqual(serverPublicPorts("iot-core"), [80, 443]);
    const scan = (mqtt: "open" | "closed" | "filtered") => [
      { port: 22, state: "filtered" as const },
      { port: 80, state: "open" as const },
      { port: 443, state: "open" as const },
      { port: 8883, state: mqtt },
    ];
    assert.deepEqual(portsVerdict(scan("filtered"), "iot-core"), {
      status: "PASS",
      name: "ports",
      detail: "4 ports scanned: only 80, 443 answer (22: see ssh; 8883 closed: the broker is AWS IoT Core)",
    });
    assert.deepEqual(portsVerdict(scan("open"), "iot-core"), {
      status: "FAIL",
      name: "ports",
      detail: "4 ports scanned: 8883 answers but must not (broker iot-core: no broker on the server)",
    });
    assert.equal(
      portsVerdict(scan("closed"), "mosquitto").detail,
      "4 ports scanned: 8883 (closed) should answer and does not",
    );
    assert.equal(portsVerdict(scan("closed")).status, "FAIL", "mosquitto unless told");
  });

  it("fails a scan with a stray open port or a silent public one, naming each", () => {
    const r = portsVerdict([
      { port: 80, state: "open" },
      { port: 443, state: "filtered" },
      { port: 1883, state: "open" },
      { port: 3000, state: "open" },
      { port: 8883, state: "open" },
    ]);
    assert.equal(r.status, "FAIL");
    assert.equal(
      r.detail,
      "5 ports scanned: 1883, 3000 answer but must not; 443 (filtered) should answer and does not",
    );
  });

  it("recognises an SSH greeting (RFC 4253 4.2) and nothing else", () => {
    assert.equal(sshBanner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"), "OpenSSH_9.2p1");
    assert.equal(sshBanner("SSH-1.99-dropbear"), "dropbear");
    assert.equal(sshBanner("HTTP/1.1 400 Bad Request"), undefined);
    assert.equal(sshBanner(""), undefined);
  });

  it("judges port 22 by where verify runs, and says INFO when it cannot know", () => {
    const status = (e: "open" | "closed" | "unknown", s: "open" | "filtered", b?: string) => sshVerdict(e, s, b).status;
    assert.equal(status("open", "open", "OpenSSH_9.2p1"), "PASS");
    assert.equal(status("open", "open"), "FAIL", "open but not SSH");
    assert.equal(status("open", "filtered"), "FAIL");
    assert.equal(status("closed", "filtered"), "PASS");
    assert.equal(status("closed", "open", "OpenSSH_9.2p1"), "FAIL");
    assert.equal(status("unknown", "open", "OpenSSH_9.2p1"), "INFO");
    assert.equal(status("unknown", "filtered"), "INFO");
    assert.match(
      sshVerdict("unknown", "open", "x").detail,
      /right only if this machine's address is in adminCidrs; run with --ssh closed/,
    );
  });

  it("writes an IPv6 address in brackets in the Host header", () => {
    assert.equal(hostHeader("2001:db8::1"), "[2001:db8::1]");
    assert.equal(hostHeader("203.0.113.10"), "203.0.113.10");
    assert.equal(hostHeader("iot.example.com"), "iot.example.com");
  });

  it("passes only a redirect to HTTPS on the same name and path", () => {
    const path = "/verify-1?from=verify";
    const v = (status: number, location?: string) => redirectVerdict({ status, location }, "203.0.113.10", path);
    assert.equal(v(301, `https://203.0.113.10${path}`).status, "PASS");
    assert.equal(v(308, `https://203.0.113.10:443${path}`).status, "PASS");
    assert.equal(v(200).status, "FAIL");
    assert.equal(v(301, `http://203.0.113.10${path}`).status, "FAIL", "to plain HTTP");
    assert.equal(v(301, `https://evil.example${path}`).status, "FAIL", "to another host");
    assert.equal(v(301, "https://203.0.113.10/").status, "FAIL", "path dropped");
    assert.equal(v(301, "not a url").status, "FAIL");
    assert.equal(
      redirectVerdict({ status: 301, location: `https://[2001:db8::1]${path}` }, "2001:db8::1", path).status,
      "PASS",
    );
    assert.match(redirectVerdict({ error: "connect ECONNREFUSED" }, "h", path).detail, /ECONNREFUSED/);
  });

  it("passes a chain that verifies for the name and reports its expiry; fails each way it can be wrong", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const ok = tlsVerdict(
      "tls-443",
      "h",
      "the stack CA",
      { authorized: true, validTo: new Date("2026-01-31T00:00:00Z"), protocol: "TLSv1.3" },
      now,
    );
    assert.deepEqual(ok, {
      status: "PASS",
      name: "tls-443",
      detail: "verifies against the stack CA for h, TLSv1.3, valid until 2026-01-31 (30 days)",
    });
    const bad = tlsVerdict(
      "tls-8883",
      "h",
      "the stack CA",
      { authorized: false, authorizationError: "CERT_HAS_EXPIRED" },
      now,
    );
    assert.equal(bad.status, "FAIL");
    assert.match(bad.detail, /does not verify against the stack CA: CERT_HAS_EXPIRED/);
    const name = tlsVerdict(
      "tls-443",
      "h",
      "t",
      { authorized: true, identityError: "IP: h is not in the cert's list" },
      now,
    );
    assert.match(name.detail, /is not for h/);
    assert.equal(tlsVerdict("tls-443", "h", "t", { error: "ECONNRESET" }, now).status, "FAIL");
  });

  it("counts only an answer from the broker as a refusal", () => {
    const table: [Parameters<typeof classifyMqttAttempt>[0], string][] = [
      [{ accepted: true }, "accepted"],
      [{ accepted: false, code: 135, message: "Connection refused: Not authorized" }, "refused-by-broker"],
      [{ accepted: false, code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", message: "alert" }, "refused-in-tls"],
      [{ accepted: false, code: "ECONNRESET", message: "read ECONNRESET" }, "refused-in-tls"],
      [{ accepted: false, message: "connection closed before CONNACK" }, "refused-in-tls"],
      [{ accepted: false, code: "ECONNREFUSED", message: "connect ECONNREFUSED" }, "unreachable"],
      [{ accepted: false, code: "ETIMEDOUT", message: "connect ETIMEDOUT" }, "unreachable"],
      [{ accepted: false, message: "connack timeout" }, "inconclusive"],
      [{ accepted: false, code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", message: "unable to verify" }, "inconclusive"],
    ];
    for (const [attempt, outcome] of table)
      assert.equal(classifyMqttAttempt(attempt), outcome, JSON.stringify(attempt));
    assert.equal(mqttRefusalVerdict("mqtt-anonymous", "x", { accepted: true }).detail, "the broker ACCEPTED x");
    assert.equal(
      mqttRefusalVerdict("mqtt-anonymous", "x", { accepted: false, message: "connack timeout" }).status,
      "FAIL",
    );
    assert.equal(
      shortError(
        "80FC05B5AC7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/x.c:1601:SSL alert number 116",
      ),
      "tlsv13 alert certificate required",
    );
  });

  it("wants the page itself, and 401 from every API request without a login", () => {
    const page = (status: number, contentType: string, body: string) =>
      webPageVerdict({ status, contentType, body }).status;
    assert.equal(page(200, "text/html; charset=utf-8", "<title>DIY Device Cloud</title>"), "PASS");
    assert.equal(page(200, "text/html", "<title>Welcome to nginx!</title>"), "FAIL", "a default site is not the page");
    assert.equal(page(502, "text/html", "<title>DIY Device Cloud</title>"), "FAIL");
    assert.equal(page(200, "application/json", "{}"), "FAIL");
    assert.equal(apiVerdict([{ request: "GET /api/devices", status: 401 }]).status, "PASS");
    const open = apiVerdict([
      { request: "GET /api/devices", status: 401 },
      { request: "GET /api/events", status: 200 },
    ]);
    assert.equal(open.status, "FAIL");
    assert.match(open.detail, /GET \/api\/events 200; each must be 401/);
  });

  it("gives each device its own line: online passes, offline and never seen fail", () => {
    const lines = deviceVerdicts({
      broker: "connected",
      devices: [
        { id: "pi1", online: true },
        { id: "pi2", online: false },
        { id: "bbb1", online: null },
      ],
    });
    assert.deepEqual(
      lines.map((l) => [l.status, l.name]),
      [
        ["PASS", "device pi1"],
        ["FAIL", "device pi2"],
        ["FAIL", "device bbb1"],
      ],
    );
    assert.match(lines[1]?.detail ?? "", /offline/);
    assert.match(lines[2]?.detail ?? "", /has not connected/);
    assert.equal(deviceVerdicts({ broker: "connected", devices: [] })[0]?.status, "INFO");
    assert.deepEqual(deviceVerdicts({ error: "login refused" }), [
      { status: "FAIL", name: "devices", detail: "login refused" },
    ]);
  });

  it("adds the live socket's line after the devices: its snapshot passes, a refused upgrade or an error fails", () => {
    const withLive = (live: LiveSeen) =>
      deviceVerdicts({ broker: "connected", devices: [{ id: "pi1", online: true }], live });
    const ok = withLive({ snapshot: { broker: "connected", devices: 2 } });
    assert.deepEqual(
      ok.map((l) => [l.status, l.name]),
      [
        ["PASS", "device pi1"],
        ["PASS", "live-socket"],
      ],
    );
    assert.match(ok[1]?.detail ?? "", /sent its snapshot \(2 devices, broker connected\)/);
    const notPassed = withLive({ status: 404 })[1];
    assert.equal(notPassed?.status, "FAIL");
    assert.match(notPassed?.detail ?? "", /answered 404 to the upgrade, not 101: nginx does not pass the upgrade/);
    assert.match(withLive({ status: 401 })[1]?.detail ?? "", /did not take the session/);
    assert.deepEqual(withLive({ error: "no snapshot within 3000 ms" })[1], {
      status: "FAIL",
      name: "live-socket",
      detail: "the page's live connection (wss /api/live): no snapshot within 3000 ms",
    });
    // With no devices configured the live socket is still checked.
    assert.deepEqual(
      deviceVerdicts({ broker: "connected", devices: [], live: { status: 502 } }).map((l) => [l.status, l.name]),
      [
        ["INFO", "devices"],
        ["FAIL", "live-socket"],
      ],
    );
  });
});

describe("verify's trust for the broker's chain", () => {
  const stack = { caCertPem: CA };
  const via = { brokerVia: { host: "127.0.0.1", port: 18883 } };
  const noFile = () => {
    throw new Error("no file may be read");
  };

  it("mosquitto: the stack CA, whatever the environment says", () => {
    assert.deepEqual(brokerTrust({ ...stack, broker: "mosquitto" }, via, { [TEST_IOT_ROOTS_ENV]: "/x.pem" }, noFile), {
      pem: CA,
      label: STACK_CA_LABEL,
    });
  });

  it("iot-core: Amazon Root CA 1 and 3 exactly, never the stack CA", () => {
    const t = brokerTrust({ ...stack, broker: "iot-core" }, via, {}, noFile);
    assert.equal(t.pem, iotCoreCaBundle());
    assert.ok(!t.pem.includes(CA.trim()));
    assert.equal(t.label, AMAZON_ROOTS_LABEL);
    assert.equal(t.warning, undefined);
  });

  it("iot-core: the test-only roots replace Amazon's only with --broker-via, and say so", () => {
    const env = { [TEST_IOT_ROOTS_ENV]: "/tmp/stand-in.pem" };
    const t = brokerTrust({ ...stack, broker: "iot-core" }, via, env, (p) => (p === "/tmp/stand-in.pem" ? CA : ""));
    assert.equal(t.pem, CA);
    assert.match(t.label, /test-only roots in \/tmp\/stand-in\.pem .*not Amazon's/);
    assert.match(t.warning ?? "", /DIY_VERIFY_TEST_IOT_CORE_ROOTS is set: .*instead of Amazon Root CA 1 and 3/);
    assert.throws(
      () => brokerTrust({ ...stack, broker: "iot-core" }, {}, env, () => CA),
      /is for tests against a stand-in endpoint reached with --broker-via; unset it/,
    );
    assert.throws(
      () => brokerTrust({ ...stack, broker: "iot-core" }, via, env, () => "not a pem"),
      /holds no PEM certificate/,
    );
    assert.throws(
      () => brokerTrust({ ...stack, broker: "iot-core" }, via, env, noFile),
      /cannot read \/tmp\/stand-in\.pem/,
    );
  });
});

describe("verify report", () => {
  const passed = { status: "PASS" as const, name: "tls-443", detail: "ok" };
  const failed = { status: "FAIL" as const, name: "device pi2", detail: "offline\n(last will)" };
  const info = { status: "INFO" as const, name: "ssh", detail: "seen" };

  it("prints one line per check, a summary naming the failures, and exits 1 on any failure", () => {
    assert.equal(formatResult(failed), "FAIL  device pi2         offline (last will)");
    assert.equal(summary([passed, failed, info]), "verify: 1 passed, 1 failed, 1 info (device pi2)");
    assert.equal(exitCode([passed, failed, info]), 1);
    assert.equal(exitCode([passed, info]), 0);
    assert.equal(exitCode([{ status: "SKIP", name: "ports", detail: "" }]), 1, "nothing checked is not a pass");
  });
});

describe("verify reading a stack through the Pulumi CLI", () => {
  const recorder = (answers: Record<string, { status: number; stdout: string }>) => {
    const calls: string[] = [];
    const run: PulumiRunner = (args) => {
      calls.push(args.join(" "));
      return {
        stderr: "error: current stack does not have output property 'webPassword'",
        ...(answers[args.join(" ")] ?? { status: 255, stdout: "" }),
      };
    };
    return { calls, run };
  };

  it("reads the outputs without --show-secrets", () => {
    const p = recorder({ [outputArgs("dev").join(" ")]: { status: 0, stdout: JSON.stringify(OUTPUTS) } });
    assert.equal(readOutputsFromStack("dev", p.run), JSON.stringify(OUTPUTS));
    assert.deepEqual(p.calls, ["stack output --json --stack dev"]);
    assert.ok(!p.calls[0]?.includes("--show-secrets"));
    assert.throws(() => readOutputsFromStack("nope", p.run), /pulumi stack output --json --stack nope failed: error:/);
  });

  it("asks for the web password by name: the generated output first, then the configured secret", () => {
    const generated = recorder({
      [passwordOutputArgs("dev").join(" ")]: { status: 0, stdout: '"s3cret-generated"\n' },
    });
    assert.equal(webPasswordFromStack("dev", generated.run), "s3cret-generated");
    assert.deepEqual(generated.calls, ["stack output webPassword --json --show-secrets --stack dev"]);
    const configured = recorder({ [passwordConfigArgs("dev").join(" ")]: { status: 0, stdout: "my own password\n" } });
    assert.equal(webPasswordFromStack("dev", configured.run), "my own password");
    assert.deepEqual(configured.calls.at(-1), "config get webPassword --stack dev");
    assert.equal(webPasswordFromStack("dev", recorder({}).run), undefined);
  });

  it("warns when an outputs file with a secret in clear is readable by others", () => {
    const dir = mkdtempSync(join(tmpdir(), "verify-unit-"));
    try {
      const file = join(dir, "o.json");
      const warnings: string[] = [];
      writeFileSync(file, JSON.stringify({ ...OUTPUTS, webPassword: "pw-in-clear" }));
      chmodSync(file, 0o644);
      readOutputsFile(file, (l) => warnings.push(l));
      assert.match(warnings[0] ?? "", /holds stack secrets and others may read it: chmod 600/);
      chmodSync(file, 0o600);
      readOutputsFile(file, (l) => warnings.push(l));
      writeFileSync(file, JSON.stringify({ ...OUTPUTS, webPassword: "[secret]" }));
      chmodSync(file, 0o644);
      readOutputsFile(file, (l) => warnings.push(l));
      assert.equal(warnings.length, 1);
      assert.throws(() => readOutputsFile(join(dir, "missing.json"), () => {}), /cannot read --outputs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("verify documentation", () => {
  it("README's section and --help say what broker iot-core changes, and name its option and test variable", () => {
    const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Check a deployment from outside"), readme.indexOf("## Devices"));
    for (const text of ["--broker-via", TEST_IOT_ROOTS_ENV, "iot-core", "Amazon Root CA 1 and 3"]) {
      assert.ok(section.includes(text), `README lacks ${text}`);
      assert.ok(HELP.includes(text), `--help lacks ${text}`);
    }
  });

  it("README's section and --help name every check, option and the scan list as the code has them", () => {
    const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Check a deployment from outside"), readme.indexOf("## Devices"));
    for (const name of CHECK_NAMES.filter((n) => n !== "devices")) {
      assert.ok(section.includes(`\`${name}\``), `README lacks ${name}`);
      assert.ok(HELP.includes(name), `--help lacks ${name}`);
    }
    assert.ok(section.includes(`a documented list of ${DEFAULT_SCAN_PORTS.length}`));
    for (const opt of ["--outputs", "--host", "--map", "--ssh open", "--ssh closed", "DIY_WEB_PASSWORD"])
      assert.ok(section.includes(opt) && HELP.includes(opt.replace(/ (open|closed)$/, "")), opt);
  });
});
