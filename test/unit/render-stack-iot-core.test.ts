// renderStack with the AWS IoT Core broker profile: the server runs no broker (nothing of mosquitto in its user data
// or push), the web app's config (through apps/web's own schema) and each board's (through device/config.ts's) name
// the ATS endpoint, Amazon's roots and the identity's thing name, and every MQTT certificate is the one AWS IoT issued
// (stand-ins from a local CA here), never the stack CA's. The mosquitto profile of the same stack is the baseline.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { parseDeviceConfig } from "../../device/config";
import { parseWebConfig } from "../../apps/web/config";
import { iotCoreCaBundle } from "../../infra/amazon-root-ca";
import { parseDevicePayload } from "../../infra/render/device-payload";
import { SERVER_MOSQUITTO_PATHS } from "../../infra/render/mosquitto";
import { RETIRE_MOSQUITTO_SERVICE, RETIRED_MOSQUITTO_FILES } from "../../infra/render/server-files";
import { SERVER_WEB_PATHS } from "../../infra/render/systemd";
import { type IotCoreBroker, type RenderedStack, renderStack, type StackRenderInput } from "../../infra/render-stack";
import { IOT_CORE_MQTT_PORT, bridgeIdentity, iotThingName } from "../../protocol";
import { issueIotStandIns, issueStackPki } from "../../scripts/stack-pki";
import { FIXTURES, fixtureSettings, fixtureValues } from "../integration/daemons-fixtures";

/** The fixture with a bridge, a CRL-worthy revocation and mail: the most of the server and boards. */
const FIXTURE = FIXTURES.find((f) => f.name.startsWith("prod"));
const ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com";
const PREFIX = "diy-device-cloud-prod";

/** Every place a server file, the user data or the push script could carry mosquitto. */
function serverTexts(stack: RenderedStack): [string, string][] {
  const { userData, push } = stack.server;
  return [
    ["user data", userData],
    ["push script", push.script],
    ...push.files.map((f): [string, string] => [f.path, `${f.path}\n${f.content}`]),
  ];
}

describe("renderStack with broker iot-core", () => {
  let mosquitto: StackRenderInput;
  let iot: StackRenderInput & { broker: IotCoreBroker };
  let base: RenderedStack;
  let stack: RenderedStack;

  before(async () => {
    assert.ok(FIXTURE);
    const settings = fixtureSettings(FIXTURE);
    const { pki } = await issueStackPki(settings, { caName: "iot-core test stack CA", serverIps: [], days: 2 });
    mosquitto = { ...fixtureValues(FIXTURE), pki };
    const identities = await issueIotStandIns(settings, { caName: "AWS IoT stand-in", days: 2 });
    const { crlPem: _crl, ...withoutCrl } = pki;
    // The same stack with the one setting changed.
    const iotFixture = { ...FIXTURE, config: { ...FIXTURE.config, broker: "iot-core" } };
    iot = {
      ...mosquitto,
      settings: fixtureSettings(iotFixture),
      pki: withoutCrl,
      broker: {
        kind: "iot-core",
        endpoint: ENDPOINT,
        region: "eu-central-1",
        thingPrefix: PREFIX,
        caCertPem: iotCoreCaBundle(),
        identities,
      },
    };
    base = renderStack(mosquitto);
    stack = renderStack(iot);
  });

  test("the server gets nothing of mosquitto: no package, config, ACL, certificate, CRL, unit order or restart", () => {
    // The baseline has each of them, so this test can fail.
    assert.ok(serverTexts(base).some(([, t]) => /mosquitto/i.test(t)));
    assert.ok(base.server.push.files.some((f) => f.path === SERVER_MOSQUITTO_PATHS.conf));
    // The push script names mosquitto only to retire what an earlier mosquitto push left (a switched stack).
    const retiring = new Set([
      ...RETIRED_MOSQUITTO_FILES.map((r) => `  remove ${r.path}`),
      `  if ! ( ${RETIRE_MOSQUITTO_SERVICE} ); then log 'step failed (continuing): ${RETIRE_MOSQUITTO_SERVICE}'; fi`,
    ]);
    const script = stack.server.push.script.split("\n");
    assert.deepEqual(
      script.filter((l) => /mosquitto/i.test(l)),
      [...retiring],
    );
    const texts = serverTexts({
      ...stack,
      server: {
        ...stack.server,
        push: { ...stack.server.push, script: script.filter((l) => !retiring.has(l)).join("\n") },
      },
    });
    for (const [where, text] of texts)
      assert.doesNotMatch(text, /mosquitto/i, `${where} mentions mosquitto in the iot-core profile`);
    const paths = stack.server.push.files.map((f) => f.path);
    for (const p of Object.values(SERVER_MOSQUITTO_PATHS)) assert.ok(!paths.includes(p), p);
    // Everything else the server gets is still there.
    const others = base.server.push.files.filter((f) => !f.path.startsWith("/etc/mosquitto/")).map((f) => f.path);
    assert.deepEqual(paths.sort(), others.sort());
  });

  test("the web app's config passes its own schema: iot-core at the endpoint, its thing prefix and region", () => {
    const file = (path: string) => stack.server.push.files.find((f) => f.path === path)?.content;
    const config = parseWebConfig(JSON.parse(file(SERVER_WEB_PATHS.config) ?? "{}"), "rendered web config");
    assert.equal(config.broker.kind, "iot-core");
    assert.equal(config.broker.url, `mqtts://${ENDPOINT}:${IOT_CORE_MQTT_PORT}`);
    assert.deepEqual(config.broker.iot, { thingPrefix: PREFIX, region: "eu-central-1" });
    assert.equal(iotThingName(PREFIX, "web"), `${PREFIX}:web`);
    // It trusts Amazon's roots and presents the certificate AWS IoT issued for its thing, not the stack CA's.
    assert.equal(file(SERVER_WEB_PATHS.ca), iotCoreCaBundle());
    assert.equal(file(SERVER_WEB_PATHS.cert), iot.broker.identities.web.certPem);
    assert.equal(file(SERVER_WEB_PATHS.key), iot.broker.identities.web.keyPem);
    assert.notEqual(file(SERVER_WEB_PATHS.cert), mosquitto.pki.web.certPem);
    // nginx keeps the stack's server certificate: the browser side does not change.
    const nginx = (s: RenderedStack) => s.server.push.files.find((f) => f.path === "/etc/nginx/tls/server.pem");
    assert.equal(nginx(stack)?.content, nginx(base)?.content);
  });

  test("no secret in the user data", () => {
    const { userData } = stack.server;
    assert.doesNotMatch(userData, /PRIVATE KEY/);
    const secrets = [
      iot.webPassword,
      iot.sessionSecret,
      iot.smtpPassword ?? "",
      iot.broker.identities.web.keyPem,
      ...Object.values(iot.broker.identities.clients).map((c) => c.keyPem),
    ].filter((x) => x !== "");
    for (const secret of secrets) assert.ok(!userData.includes(secret.trim()));
  });

  test("each board's config passes the device schema: endpoint, Amazon's roots, client id = its thing name", () => {
    assert.ok(stack.devices.length > 0);
    for (const d of stack.devices) {
      const files = parseDevicePayload(d.payload);
      const config = parseDeviceConfig(JSON.parse(files["config.json"] ?? "{}"), `${d.device.id} config`);
      assert.equal(config.broker.url, `mqtts://${ENDPOINT}:${IOT_CORE_MQTT_PORT}`);
      assert.equal(config.broker.clientId, `${PREFIX}:${d.device.id}`);
      assert.equal(files["ca.pem"], iotCoreCaBundle());
      assert.equal(files["device.pem"], iot.broker.identities.clients[d.device.id]?.certPem);
      assert.equal(files["device.key"], iot.broker.identities.clients[d.device.id]?.keyPem);
      // The baseline board gets the stack CA's certificate and the device id as client id.
      const b = base.devices.find((x) => x.device.id === d.device.id);
      const baseConfig = parseDeviceConfig(JSON.parse(parseDevicePayload(b?.payload ?? "")["config.json"] ?? "{}"));
      assert.equal(baseConfig.broker.clientId, undefined);
      assert.notEqual(files["device.pem"], parseDevicePayload(b?.payload ?? "")["device.pem"]);
    }
  });

  test("a bridge board bridges to IoT Core as its own thing, with its own certificate, after AWS's pattern", () => {
    const gw = stack.devices.find((d) => d.device.bridge);
    assert.ok(gw);
    const files = parseDevicePayload(gw.payload);
    const conf = files["bridge.conf"] ?? "";
    const thing = `${PREFIX}:${bridgeIdentity(gw.device.id)}`;
    for (const line of [
      `address ${ENDPOINT}:8883`,
      `remote_clientid ${thing}`,
      "bridge_protocol_version mqttv311",
      "try_private false",
      "cleansession true",
      "notifications false",
      "bridge_insecure false",
    ])
      assert.ok(conf.split("\n").includes(line), `bridge.conf lacks "${line}":\n${conf}`);
    // Exactly its children's topics, QoS 1, as on mosquitto.
    const topicsOf = (text: string) => text.split("\n").filter((l) => l.startsWith("topic "));
    const baseConf = parseDevicePayload(base.devices.find((d) => d.device.id === gw.device.id)?.payload ?? "")[
      "bridge.conf"
    ];
    assert.deepEqual(topicsOf(conf), topicsOf(baseConf ?? ""));
    assert.ok(topicsOf(conf).length > 0);
    for (const l of topicsOf(conf)) assert.match(l, / (in|out) 1$/);
    assert.equal(files["bridge.pem"], iot.broker.identities.bridges[gw.device.id]?.certPem);
    assert.equal(files["bridge.key"], iot.broker.identities.bridges[gw.device.id]?.keyPem);
  });

  test("a CRL has no place on IoT Core: revocation deactivates the certificate", () => {
    assert.ok(mosquitto.pki.crlPem, "the fixture revokes a device");
    assert.throws(() => renderStack({ ...iot, pki: mosquitto.pki }), /AWS IoT Core takes no CRL/);
  });

  test("the material's broker must be the stack's broker setting, either way round", () => {
    assert.equal(iot.settings.broker, "iot-core");
    assert.equal(mosquitto.settings.broker, "mosquitto");
    assert.throws(
      () => renderStack({ ...mosquitto, settings: iot.settings }),
      /the stack's broker is iot-core but its files were asked for with mosquitto material/,
    );
    assert.throws(
      () => renderStack({ ...iot, settings: mosquitto.settings }),
      /the stack's broker is mosquitto but its files were asked for with iot-core material/,
    );
  });
});
