// Every config error ends with the command that fixes it. A user pastes that command into a shell, so each one must
// run as printed: through sh and through bash with failglob (zsh, macOS's shell, refuses an unmatched glob such as
// the `?` of a URL), against the pulumi CLI double (pulumi-config-double.cjs, which follows the CLI's parsing: a
// value starting with "-" is an unknown flag, a value left out is read from stdin). It must set the key it names, as
// a secret exactly when the key is one.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { fixFor, KEYS, NAMESPACE, SECRET_KEYS } from "../../infra/config";
import { sandbox } from "./pulumi-cli-sandbox";

const SHELLS: string[][] = [["/bin/sh"], ["/usr/bin/bash", "-O", "failglob"]];

describe("the fix a config error names runs as printed and sets its key", () => {
  for (const key of Object.keys(KEYS)) {
    for (const shell of SHELLS) {
      test(`${key} (${shell.join(" ")})`, (t) => {
        const box = sandbox({ config: {}, secure: [] });
        t.after(() => box.cleanup());
        // What the README's recipe leaves: the device key at ~/.ssh/diy-device (the fix reads it from there).
        mkdirSync(path.join(box.home, ".ssh"), { mode: 0o700 });
        execFileSync("ssh-keygen", ["-t", "ed25519", "-N", "", "-q", "-f", path.join(box.home, ".ssh", "diy-device")]);
        const fix = fixFor(key);
        const r = box.run(fix, shell);
        assert.equal(r.status, 0, `${fix}\n${r.stderr}`);
        const state = box.state();
        const full = `${NAMESPACE}:${key}`;
        assert.ok(full in state.config, `${fix} did not set ${full}: ${JSON.stringify(state.config)}`);
        assert.equal(state.secure.includes(full), (SECRET_KEYS as string[]).includes(key), fix);
        if (key === "deviceSshPrivateKey")
          assert.match(String(state.config[full]), /^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+-----END OPENSSH/);
      });
    }
  }
});
