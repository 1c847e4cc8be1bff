// The CRL's memory (infra/render/serial-ledger.ts): the ledger script run the way @pulumi/command runs
// it across `pulumi up`s (pulumi-command-double.ts), and the serials a CRL takes from it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type LedgerEntry, parseLedger, renderLedgerInput, revokedSerials } from "../../infra/render/serial-ledger";
import { upSerialLedger } from "./serial-ledger-up";

const FUTURE = "2099-01-01T00:00:00.000Z";
const PAST = "2001-01-01T00:00:00.000Z";

/** One `pulumi up` of the ledger command with these current certificates. */
const up = upSerialLedger;

describe("serial ledger", () => {
  it("keeps every serial an identity was issued across rotations, and forgets only expired ones", () => {
    const first = up([
      { identity: "pi1", serial: "0a", notAfter: FUTURE },
      { identity: "pi2", serial: "0b", notAfter: FUTURE },
    ]);
    // certRotation: both re-issued; the old serials are no longer in any certificate of the stack.
    const rotated = up(
      [
        { identity: "pi1", serial: "1a", notAfter: FUTURE },
        { identity: "pi2", serial: "1b", notAfter: FUTURE },
      ],
      first,
    );
    assert.deepEqual(
      parseLedger(rotated.stdout).map((e) => `${e.identity} ${e.serial}`),
      ["pi1 0a", "pi1 1a", "pi2 0b", "pi2 1b"],
    );
    // An up that changes nothing runs nothing: the state, and so the ledger, stays.
    assert.equal(
      up(
        [
          { identity: "pi1", serial: "1a", notAfter: FUTURE },
          { identity: "pi2", serial: "1b", notAfter: FUTURE },
        ],
        rotated,
      ),
      rotated,
    );
    // An expired entry leaves (TLS refuses that certificate anyway).
    const withExpired = { ...rotated, stdout: `${rotated.stdout}\npi3 0c ${PAST}` };
    const next = up([{ identity: "pi1", serial: "2a", notAfter: FUTURE }], withExpired);
    assert.deepEqual(
      parseLedger(next.stdout).map((e) => e.serial),
      ["0a", "1a", "2a", "0b", "1b"],
    );
  });

  it("names in the CRL every serial of the revoked identities, and no one else's", () => {
    const ledger: LedgerEntry[] = [
      { identity: "pi1", serial: "0a", notAfter: FUTURE },
      { identity: "gw1:bridge", serial: "0c", notAfter: FUTURE },
      { identity: "pi2", serial: "0b", notAfter: FUTURE },
    ];
    assert.deepEqual(revokedSerials(["pi1", "gw1:bridge"], [{ identity: "pi1", serial: "1A" }], ledger), [
      "0a",
      "0c",
      "1a",
    ]);
    assert.deepEqual(revokedSerials([], [], ledger), []);
  });

  it("refuses an entry that would not read back, and skips lines that are not entries", () => {
    assert.throws(() => renderLedgerInput([{ identity: "pi 1", serial: "0a", notAfter: FUTURE }]), /serial ledger/);
    assert.deepEqual(parseLedger(`garbage\npi1 0a ${FUTURE}\n\n`), [
      { identity: "pi1", serial: "0a", notAfter: FUTURE },
    ]);
  });
});
