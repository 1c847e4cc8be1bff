// Attack suite, device <-> broker: a stolen board is revoked, then the stack's certificates rotate.
// The program used to sign a CRL naming the revoked device's *current* certificate only: after a
// certRotation the stolen (older) certificate was valid again until it expired. Now it stays refused
// twice over: the CRL names every serial the stack ever issued to the device (the serial ledger,
// infra/serial-ledger.ts, run here as @pulumi/command runs it across `pulumi up`s), and the broker ACL
// denies the revoked identity by name whatever certificate it presents.
// Real mosquitto with the rendered config, ACL and CRL; each `pulumi up` is a push (files + restart).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type LedgerEntry, parseLedger, revokedSerials } from "../../infra/render/serial-ledger";
import { WEB_CLIENT_ID, encodeCommand, encodeState, topics } from "../../protocol";
import { type LocalCommandState, upSerialLedger } from "../unit/serial-ledger-up";
import { collect, publish, subscribe } from "../support/mqtt";
import { letMessagesArrive } from "../support/wait";
import { type IssuedFiles, type TestBroker, startTestBroker } from "../support/broker";

describe("attack: a revoked device's stolen certificate after a certRotation", () => {
  let broker: TestBroker;
  const devices = ["pi1", "pi2"].map((id) => ({ id, outputs: ["led"], inputs: [] }));
  const current = new Map<string, IssuedFiles>();
  let ledger: LocalCommandState | undefined;
  let stolen: IssuedFiles;
  let rotated: IssuedFiles;

  /** The ledger command during one `pulumi up`, with the stack's current certificates. */
  const up = () => {
    const entries: LedgerEntry[] = [...current].map(([identity, f]) => ({ identity, ...f }));
    ledger = upSerialLedger(entries, ledger);
  };
  /** What the program's CRL names for the revoked devices (infra/crl.ts). */
  const crlFor = (revoked: string[]) =>
    revokedSerials(
      revoked,
      [...current].map(([identity, f]) => ({ identity, serial: f.serial })),
      parseLedger(ledger?.stdout),
    );

  before(async () => {
    broker = await startTestBroker("attack-revocation", { devices, crl: true });
    // First `pulumi up`: pi1's certificate is the one that will be stolen with the board.
    stolen = await broker.client("pi1");
    current.set("pi1", stolen);
    current.set("pi2", await broker.client("pi2"));
    up();
    // The board is stolen: revokedDevices [pi1], `pulumi up`.
    up();
    await broker.configure({ revoked: ["pi1"], crlSerials: crlFor(["pi1"]) });
    // Later, certRotation changes: every certificate is re-issued, pi1's too, and pushed.
    rotated = await broker.reissue("pi1");
    current.set("pi1", rotated);
    current.set("pi2", await broker.reissue("pi2"));
    up();
    await broker.configure({ revoked: ["pi1"], crlSerials: crlFor(["pi1"]) });
  });
  after(() => broker?.cleanup());

  it("the CRL still names the stolen certificate: refused at the TLS handshake, while pi2 connects", async () => {
    assert.ok(crlFor(["pi1"]).includes(stolen.serial), "the CRL forgot the stolen serial");
    assert.ok(crlFor(["pi1"]).includes(rotated.serial));
    assert.ok(!crlFor(["pi1"]).some((s) => s === current.get("pi2")?.serial));
    await assert.rejects(broker.connect("pi1", {}, stolen), /certificate revoked|closed|ECONNRESET/i);
    await assert.rejects(broker.connect("pi1", {}, rotated), /certificate revoked|closed|ECONNRESET/i);
    const pi2 = await broker.connect("pi2");
    assert.equal(pi2.connected, true, broker.output());
    pi2.end(true);
  });

  it("and by name: with a CRL that names only the current certificate, the stolen one connects but may do nothing", async () => {
    // What the program pushed before the ledger: a CRL naming pi1's current serial alone.
    await broker.configure({ revoked: ["pi1"], crlSerials: [rotated.serial] });
    const web = await broker.connect(WEB_CLIENT_ID);
    const seen = collect(web);
    await subscribe(web, [topics.state("pi1", "+"), topics.status("pi1")]);
    const thief = await broker.connect("pi1", {}, stolen); // the TLS handshake passes: the CRL does not name it
    try {
      const got = collect(thief);
      await subscribe(thief, topics.set("pi1", "+"));
      for (const [topic, payload] of [
        [topics.state("pi1", "led"), encodeState("on")],
        [topics.status("pi1"), "online"],
      ] as const) {
        const r = await publish(thief, topic, payload, true);
        assert.equal(r.ok ? 0 : r.reasonCode, 135, `${topic}: ${JSON.stringify(r)}`);
      }
      assert.deepEqual(await publish(web, topics.set("pi1", "led"), encodeCommand({ value: "on", req: "r1" })), {
        ok: true,
      });
      await letMessagesArrive();
      assert.deepEqual(got, [], "the revoked identity received a command");
      assert.deepEqual(seen, [], "the web app received a message from the revoked identity");
    } finally {
      thief.end(true);
      web.end(true);
    }
  });
});
