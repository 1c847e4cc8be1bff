import assert from "node:assert/strict";
import { test } from "node:test";
import { MESSAGE_SIZE_LIMIT, type MosquittoConfInput, renderMosquittoConf } from "../../infra/render/mosquitto";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { MAX_PAYLOAD_BYTES, aclModel, topics } from "../../protocol";

const base: MosquittoConfInput = {
  source: "stack dev",
  listener: { port: 8883 },
  tls: {
    cafile: "/etc/mosquitto/certs/ca.pem",
    certfile: "/etc/mosquitto/certs/server.pem",
    keyfile: "/etc/mosquitto/certs/server.key",
  },
  aclFile: "/etc/mosquitto/acl",
  persistenceDir: "/var/lib/mosquitto",
  log: { to: "stderr" },
};

const directives = (text: string): string[] => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

test("mosquitto.conf opens with a header naming the renderer and the stack", () => {
  const [first, second] = renderMosquittoConf(base).split("\n");
  assert.match(first ?? "", /^# Rendered by diy-device-cloud infra\/render\/mosquitto\.ts/);
  assert.equal(second, "# Source: stack dev");
});

test("mosquitto.conf requires client certificates, maps the CN to the username and refuses anonymous", () => {
  const lines = directives(renderMosquittoConf(base));
  for (const d of [
    "per_listener_settings true",
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    "allow_anonymous false",
    "tls_version tlsv1.2",
    "set_tcp_nodelay true",
    "acl_file /etc/mosquitto/acl",
    "cafile /etc/mosquitto/certs/ca.pem",
    "certfile /etc/mosquitto/certs/server.pem",
    "keyfile /etc/mosquitto/certs/server.key",
  ]) {
    assert.ok(lines.includes(d), `missing "${d}"`);
  }
});

test("mosquitto.conf puts the per-listener security settings after the listener line", () => {
  const lines = directives(renderMosquittoConf(base));
  const listener = lines.indexOf("listener 8883");
  assert.ok(listener > 0);
  for (const d of [
    "require_certificate true",
    "use_username_as_clientid true",
    "allow_anonymous false",
    "acl_file /etc/mosquitto/acl",
    "cafile /etc/mosquitto/certs/ca.pem",
  ]) {
    assert.ok(lines.indexOf(d) > listener, `${d} must follow the listener`);
  }
  assert.ok(lines.indexOf("per_listener_settings true") < listener);
});

test("mosquitto.conf has one listener, binding the configured address", () => {
  const lines = directives(renderMosquittoConf({ ...base, listener: { port: 18883, bindAddress: "127.0.0.1" } }));
  assert.deepEqual(
    lines.filter((l) => l.startsWith("listener ")),
    ["listener 18883 127.0.0.1"],
  );
});

test("mosquitto.conf names the CRL only when one is given", () => {
  assert.ok(!renderMosquittoConf(base).includes("crlfile"));
  const withCrl = directives(
    renderMosquittoConf({ ...base, tls: { ...base.tls, crlfile: "/etc/mosquitto/certs/crl.pem" } }),
  );
  assert.ok(withCrl.includes("crlfile /etc/mosquitto/certs/crl.pem"));
});

test("mosquitto.conf persists to the configured directory with a trailing slash and sizes its limits", () => {
  const lines = directives(
    renderMosquittoConf({ ...base, limits: { maxQueuedMessages: 500, persistentClientExpiration: "2w" } }),
  );
  assert.ok(lines.includes("persistence true"));
  assert.ok(lines.includes("persistence_location /var/lib/mosquitto/"));
  assert.ok(lines.includes("max_queued_messages 500"));
  assert.ok(lines.includes("persistent_client_expiration 2w"));
  assert.ok(lines.includes("max_keepalive 300"));
});

test("mosquitto.conf takes exactly the protocol's payload cap (one number, protocol's MAX_PAYLOAD_BYTES) and bounds whole packets", () => {
  const lines = directives(renderMosquittoConf(base));
  assert.ok(lines.includes(`message_size_limit ${MAX_PAYLOAD_BYTES}`), "the broker and the protocol disagree");
  assert.equal(MESSAGE_SIZE_LIMIT, MAX_PAYLOAD_BYTES);
  // A packet: the payload, its topic and properties; a CONNECT with its Last Will. Bigger is an attack.
  const packet = Number(lines.find((l) => l.startsWith("max_packet_size "))?.split(" ")[1]);
  assert.ok(packet > MAX_PAYLOAD_BYTES + 512 && packet <= 8 * MAX_PAYLOAD_BYTES, `max_packet_size ${packet}`);
});

test("mosquitto.conf logs to a file when asked", () => {
  const lines = directives(
    renderMosquittoConf({ ...base, log: { to: "file", path: "/var/log/mosquitto/mosquitto.log" } }),
  );
  assert.ok(lines.includes("log_dest file /var/log/mosquitto/mosquitto.log"));
  assert.ok(!lines.includes("log_dest stderr"));
});

test("mosquitto.conf has every directive once and no commented-out defaults", () => {
  const text = renderMosquittoConf(base);
  const keys = directives(text).map((l) => l.split(" ")[0]);
  assert.equal(new Set(keys).size, keys.length, "a directive appears twice");
  for (const c of text.split("\n").filter((l) => l.startsWith("#"))) assert.doesNotMatch(c, /^#\s*[a-z_]+ \S/);
});

test("mosquitto.conf refuses values that would break out of their line", () => {
  assert.throws(() => renderMosquittoConf({ ...base, aclFile: "/etc/acl\nallow_anonymous true" }), /aclFile/);
  assert.throws(() => renderMosquittoConf({ ...base, aclFile: "relative/acl" }), /absolute/);
  assert.throws(() => renderMosquittoConf({ ...base, listener: { port: 70000 } }), /listener\.port/);
  assert.throws(
    () => renderMosquittoConf({ ...base, limits: { persistentClientExpiration: "forever" } }),
    /persistentClientExpiration/,
  );
  assert.throws(() => renderMosquittoConf({ ...base, limits: { maxKeepalive: 5 } }), /maxKeepalive/);
});

const stack = {
  devices: [
    { id: "pi1", outputs: ["led"], inputs: ["button"], sensors: ["cpu"] },
    { id: "bbb1", outputs: ["usr0", "usr1"], inputs: [] },
  ],
};

test("ACL gives every device exactly its configured names in its own user block, and no pattern", () => {
  const acl = renderMosquittoAcl(aclModel(stack));
  assert.match(acl.split("\n")[0] ?? "", /^# Rendered by diy-device-cloud infra\/render\/mosquitto-acl\.ts/);
  const lines = directives(acl);
  assert.ok(!lines.some((l) => l.startsWith("pattern")), "a pattern grants every certificate the CA ever signed");
  const block = (user: string) => {
    const at = lines.indexOf(`user ${user}`);
    assert.ok(at >= 0, `no user ${user}`);
    const end = lines.findIndex((l, i) => i > at && l.startsWith("user "));
    return lines.slice(at + 1, end < 0 ? undefined : end);
  };
  assert.deepEqual(block("pi1"), [
    `topic read ${topics.set("pi1", "led")}`,
    `topic write ${topics.state("pi1", "led")}`,
    `topic write ${topics.input("pi1", "button")}`,
    `topic write ${topics.sensor("pi1", "cpu")}`,
    `topic write ${topics.status("pi1")}`,
  ]);
  assert.deepEqual(block("bbb1"), [
    `topic read ${topics.set("bbb1", "usr0")}`,
    `topic read ${topics.set("bbb1", "usr1")}`,
    `topic write ${topics.state("bbb1", "usr0")}`,
    `topic write ${topics.state("bbb1", "usr1")}`,
    `topic write ${topics.status("bbb1")}`,
  ]);
});

test("ACL lets the web user command every output and read the rest, and nothing before it is anonymous", () => {
  const lines = directives(renderMosquittoAcl(aclModel(stack)));
  const web = lines.indexOf("user web");
  assert.equal(web, 0, "topic lines before the first user apply to anonymous clients");
  assert.deepEqual(lines.slice(web + 1, web + 6), [
    `topic write ${topics.set("+", "+")}`,
    `topic read ${topics.state("+", "+")}`,
    `topic read ${topics.input("+", "+")}`,
    `topic read ${topics.status("+")}`,
    `topic read ${topics.sensor("+", "+")}`,
  ]);
  assert.equal(lines[web + 6], "user pi1");
});

test("ACL gives each bridge connection exactly its children's names in its own user block", () => {
  const lines = directives(
    renderMosquittoAcl(
      aclModel({
        devices: [],
        bridges: [
          {
            id: "gw1",
            children: [
              { id: "ard1", outputs: ["relay"], inputs: [] },
              { id: "ard2", outputs: [], inputs: ["door"] },
            ],
          },
          { id: "gw2", children: [{ id: "ard3", outputs: ["led"], inputs: [] }] },
        ],
      }),
    ),
  );
  const gw1 = lines.indexOf("user gw1:bridge");
  const gw2 = lines.indexOf("user gw2:bridge");
  assert.ok(gw1 > 0 && gw2 > gw1);
  assert.deepEqual(lines.slice(gw1 + 1, gw2), [
    `topic read ${topics.set("ard1", "relay")}`,
    `topic write ${topics.state("ard1", "relay")}`,
    `topic write ${topics.status("ard1")}`,
    `topic write ${topics.input("ard2", "door")}`,
    `topic write ${topics.status("ard2")}`,
  ]);
  assert.deepEqual(lines.slice(gw2 + 1), [
    `topic read ${topics.set("ard3", "led")}`,
    `topic write ${topics.state("ard3", "led")}`,
    `topic write ${topics.status("ard3")}`,
  ]);
});

test("ACL refuses a username that would be two tokens or appears twice, and a topic that is not a filter", () => {
  assert.throws(() => renderMosquittoAcl({ users: [{ username: "a b", rules: [] }] }), /username/);
  const twice = { username: "pi1", rules: [] };
  assert.throws(() => renderMosquittoAcl({ users: [twice, twice] }), /twice/);
  for (const topic of ["a b", "a/#/b", "a+/b", 'a"b'])
    assert.throws(
      () => renderMosquittoAcl({ users: [{ username: "x", rules: [{ access: "read", topic }] }] }),
      /ACL topic/,
      topic,
    );
  assert.match(
    renderMosquittoAcl({ users: [{ username: "x", rules: [{ access: "deny", topic: "#" }] }] }),
    /^topic deny #$/m,
  );
});
