// The user data against cloud-init's own JSON schema from Debian 13's cloud-init 25.1 (see cloud-init-schema.ts).
// Debian 12's 22.4 accepts unknown top-level keys, so `cloud-init schema` in the integration tier cannot catch a
// key that cloud-init ignores; this does. Every stack file's user data is checked in stacks-eval.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderCloudConfig } from "../../infra/render/cloud-config";
import { cloudInitSchema } from "./cloud-init-schema";

test("the cloud-init schema double refuses what cloud-init 25.1 refuses", () => {
  const schema = cloudInitSchema();
  assert.match(schema.source, /^cloud-init 25\.1/, "Debian 13's cloud-init (25.1.x)");
  const problems = (body: string) => schema.validate(`#cloud-config\n${body}`);
  // The defect cloud-init ignores on 22.4: debconf_selections is read only under apt: (cc_apt_configure).
  assert.deepEqual(problems("debconf_selections:\n  postfix: x\n"), [
    "(top level): must NOT have additional properties (debconf_selections)",
  ]);
  assert.deepEqual(problems("apt:\n  debconf_selections:\n    postfix: x\n"), []);
  assert.deepEqual(problems("runcmd: ls\n"), ["/runcmd: must be array"]);
  assert.deepEqual(problems("packges: [nginx]\n"), ["(top level): must NOT have additional properties (packges)"]);
  // YAML 1.1 like PyYAML: `yes` is a boolean there, so this is valid.
  assert.deepEqual(problems("ssh_pwauth: no\n"), []);
  // A key cloud-init 25.1 marks deprecated (it logs DEPRECATED) is a problem too.
  assert.ok(
    problems("users:\n  - name: pi\n    lock-passwd: true\n").includes(
      "/users/0/lock-passwd: is deprecated in this cloud-init",
    ),
  );
  assert.deepEqual(schema.validate("hostname: x\n"), ['first line is "hostname: x", not #cloud-config']);
});

test("server user data passes cloud-init 25.1's schema with every renderer option", () => {
  const schema = cloudInitSchema();
  const variants: Parameters<typeof renderCloudConfig>[0][] = [
    { hostname: "diy-dev" },
    { hostname: "diy-prod", source: 'stack "prod"', upgradePackages: true, mosquittoLimitNofile: 65536 },
    // broker iot-core: no mosquitto package, drop-in or restart.
    { hostname: "diy-iot", localBroker: false },
    {
      hostname: "d",
      fail2ban: {
        ignoreIps: ["198.51.100.0/24"],
        mail: { destemail: "ops@example.com", sender: "f2b@example.com" },
        nginxLimitReq: {},
      },
    },
  ];
  for (const v of variants) assert.deepEqual(schema.validate(renderCloudConfig(v)), [], JSON.stringify(v));
});
