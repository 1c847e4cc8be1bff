// The IoT policy double holds IoT Core's documented rules (sources in iot-policy-double.ts); each case here is
// one of those rules, so a double that drifts from them fails before any test relies on it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { filtersMatching, iotAuthorizer, iotClient, mqttMatches, parseIotPolicies } from "./iot-policy-double";

const ARN = "arn:aws:iot:us-east-1:123456789012:";
const conn = { clientId: "thing1", thingName: "thing1" };
const doc = (...Statement: object[]) => ({ Version: "2012-10-17", Statement });
const allow = (Action: string[], Resource: string[]) => ({ Effect: "Allow", Action, Resource });

describe("the IoT policy double itself (AWS IoT Core Developer Guide)", () => {
  it("'*' matches any characters, '/' included; '?' one character; '+' and '#' are literal (iot-policy-variables.html)", () => {
    const auth = iotAuthorizer([
      doc(
        allow(["iot:Publish"], [`${ARN}topic/a/*/c`, `${ARN}topic/q/?`]),
        allow(["iot:Subscribe"], [`${ARN}topicfilter/f/+/x`, `${ARN}topicfilter/g/#`]),
      ),
    ]);
    const pub = (t: string) => auth.allows("iot:Publish", `${ARN}topic/${t}`, conn);
    const sub = (f: string) => auth.allows("iot:Subscribe", `${ARN}topicfilter/${f}`, conn);
    assert.ok(pub("a/b/c") && pub("a/b/b/c") && pub("a//c"));
    assert.ok(!pub("a/b/d") && !pub("x/a/b/c"));
    assert.ok(pub("q/1") && !pub("q/12") && !pub("q/"));
    assert.ok(sub("f/+/x") && !sub("f/y/x") && !sub("f/#"), "a `+` grant is that filter only");
    assert.ok(sub("g/#") && !sub("g/h") && !sub("g/+"));
  });

  it("denies by default and lets a Deny in any attached policy override every Allow", () => {
    const a = allow(["iot:Receive"], [`${ARN}topic/*`]);
    const d = { Effect: "Deny", Action: ["iot:Receive"], Resource: [`${ARN}topic/secret/*`] };
    const auth = iotAuthorizer([doc(a), doc(d)]);
    assert.ok(auth.allows("iot:Receive", `${ARN}topic/open`, conn));
    assert.ok(!auth.allows("iot:Receive", `${ARN}topic/secret/x`, conn));
    assert.ok(!auth.allows("iot:Publish", `${ARN}topic/open`, conn), "no statement, no access");
  });

  it("matches actions case-insensitively with wildcards (IAM Action element)", () => {
    const auth = iotAuthorizer([doc(allow(["IOT:publish", "iot:Re*"], [`${ARN}topic/t`]))]);
    assert.ok(auth.allows("iot:Publish", `${ARN}topic/t`, conn));
    assert.ok(
      auth.allows("iot:Receive", `${ARN}topic/t`, conn) && auth.allows("iot:RetainPublish", `${ARN}topic/t`, conn),
    );
    assert.ok(!auth.allows("iot:Subscribe", `${ARN}topicfilter/t`, conn));
  });

  it("resolves ${iot:Connection.Thing.ThingName} to the attached thing, and denies when there is none (thing policy examples)", () => {
    const docs = [doc(allow(["iot:Connect"], [`${ARN}client/\${iot:Connection.Thing.ThingName}`]))];
    assert.ok(iotClient(docs, ARN, conn).connects("thing1"));
    assert.ok(!iotClient(docs, ARN, conn).connects("thing2"));
    assert.ok(!iotClient(docs, ARN, { clientId: "thing1", thingName: undefined }).connects("thing1"));
    const literal = [doc(allow(["iot:Publish"], [`${ARN}topic/a$(*)b`]))];
    assert.ok(iotClient(literal, ARN, conn).publishes("a*b") && !iotClient(literal, ARN, conn).publishes("axb"));
  });

  it("needs iot:RetainPublish besides iot:Publish for a retained publish (iot-policy-actions.html)", () => {
    const only = iotClient([doc(allow(["iot:Publish"], [`${ARN}topic/s`]))], ARN, conn);
    assert.ok(only.publishes("s") && !only.publishes("s", { retain: true }));
    const retainOnly = iotClient([doc(allow(["iot:RetainPublish"], [`${ARN}topic/s`]))], ARN, conn);
    assert.ok(!retainOnly.publishes("s", { retain: true }));
    const both = iotClient([doc(allow(["iot:Publish", "iot:RetainPublish"], [`${ARN}topic/s`]))], ARN, conn);
    assert.ok(both.publishes("s", { retain: true }));
  });

  it("delivers a message only through a permitted subscription whose filter matches, and only when iot:Receive allows it", () => {
    const c = iotClient(
      [doc(allow(["iot:Subscribe"], [`${ARN}topicfilter/d/+/s`]), allow(["iot:Receive"], [`${ARN}topic/d/*`]))],
      ARN,
      conn,
    );
    assert.ok(c.reads("d/a/s"));
    assert.ok(!c.reads("d/a/b/s"), "d/+/s does not match it, whatever iot:Receive says");
    assert.ok(!c.reads("e/a/s"));
    const expected = ["#", "a/#", "+/#", "a/b", "a/+", "+/b", "+/+", "a/b/#", "a/+/#", "+/b/#", "+/+/#"];
    assert.deepEqual(filtersMatching("a/b").sort(), expected.sort());
    assert.ok(filtersMatching("$aws/x").every((f) => f.startsWith("$aws") || f === "#") && !mqttMatches("#", "$aws/x"));
  });

  it("refuses what CreatePolicy refuses, and what it does not model", () => {
    const big = doc(allow(["iot:Publish"], [`${ARN}topic/${"x".repeat(2048)}`]));
    assert.throws(() => parseIotPolicies([big]), /2048/);
    assert.throws(() => parseIotPolicies([{ Version: "2008-10-17", Statement: [] }]), /Version/);
    assert.throws(() => parseIotPolicies([doc({ ...allow(["iot:Connect"], ["*"]), Condition: {} })]), /Condition/);
    assert.throws(
      () =>
        iotAuthorizer([doc(allow(["iot:Connect"], ["${iot:Certificate.Subject.CommonName}"]))]).allows(
          "iot:Connect",
          "x",
          conn,
        ),
      /not modelled/,
    );
  });
});
