// The VM tier boots exactly this user data (test/vm/lib/stack.ts); cloud-init 25.1 on its Debian 13 VMs must
// accept it, so a schema problem fails here in seconds rather than after a VM boot.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BOARDS, boardUserData, serverUserData } from "../vm/lib/stack";
import { cloudInitSchema } from "./cloud-init-schema";

test("the VM tier's server and board user data pass cloud-init 25.1's schema", () => {
  const schema = cloudInitSchema();
  assert.deepEqual(schema.validate(serverUserData()), []);
  assert.ok(BOARDS.length >= 2);
  for (const b of BOARDS) {
    assert.deepEqual(
      schema.validate(boardUserData(b.settings, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA test")),
      [],
      b.settings.id,
    );
  }
});
