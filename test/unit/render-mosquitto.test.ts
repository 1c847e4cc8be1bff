import assert from "node:assert/strict";
import { test } from "node:test";
import { type MosquittoConfInput, renderMosquittoConf } from "../../infra/render/mosquitto";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { aclModel, topics } from "../../protocol";

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
  assert.ok(lines.includes("message_size_limit 65536"));
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

test("ACL gives every device only its own subtree through %u patterns", () => {
  const acl = renderMosquittoAcl(aclModel([]));
  assert.match(acl.split("\n")[0] ?? "", /^# Rendered by diy-device-cloud infra\/render\/mosquitto-acl\.ts/);
  const lines = directives(acl);
  assert.ok(lines.includes(`pattern read ${topics.set("%u", "+")}`));
  assert.ok(lines.includes(`pattern write ${topics.state("%u", "+")}`));
  assert.ok(lines.includes(`pattern write ${topics.input("%u", "+")}`));
  assert.ok(lines.includes(`pattern write ${topics.status("%u")}`));
  assert.ok(
    !lines.some((l) => l.startsWith("pattern") && !l.includes("%u")),
    "a pattern without %u grants every client",
  );
});

test("ACL lets the web user command every output and read the rest, and nothing before it is anonymous", () => {
  const lines = directives(renderMosquittoAcl(aclModel([])));
  const web = lines.indexOf("user web");
  assert.ok(web > 0);
  assert.ok(
    !lines.slice(0, web).some((l) => l.startsWith("topic ")),
    "topic lines before the first user apply to anonymous clients",
  );
  assert.deepEqual(lines.slice(web + 1), [
    `topic write ${topics.set("+", "+")}`,
    `topic read ${topics.state("+", "+")}`,
    `topic read ${topics.input("+", "+")}`,
    `topic read ${topics.status("+")}`,
    `topic read ${topics.sensor("+", "+")}`,
  ]);
});

test("ACL gives each bridge exactly its children's topics in its own user block", () => {
  const lines = directives(
    renderMosquittoAcl(
      aclModel([
        { id: "gw1", children: ["ard1", "ard2"] },
        { id: "gw2", children: ["ard3"] },
      ]),
    ),
  );
  const gw1 = lines.indexOf("user gw1:bridge");
  const gw2 = lines.indexOf("user gw2:bridge");
  assert.ok(gw1 > 0 && gw2 > gw1);
  const gw1Block = lines.slice(gw1 + 1, gw2);
  assert.equal(gw1Block.length, 8);
  assert.ok(gw1Block.every((l) => l.includes("/ard1/") || l.includes("/ard2/")));
  assert.deepEqual(lines.slice(gw2 + 1), [
    `topic read ${topics.set("ard3", "+")}`,
    `topic write ${topics.state("ard3", "+")}`,
    `topic write ${topics.input("ard3", "+")}`,
    `topic write ${topics.status("ard3")}`,
  ]);
});

test("ACL refuses a username that would be two tokens or appears twice", () => {
  assert.throws(() => renderMosquittoAcl({ patterns: [], users: [{ username: "a b", rules: [] }] }), /username/);
  const twice = { username: "pi1", rules: [] };
  assert.throws(() => renderMosquittoAcl({ patterns: [], users: [twice, twice] }), /twice/);
});
