// Attack suite, finding 9 (second half): the web password is compared in constant time. A plain `===`
// returns at the first differing character, so response times leak how much of a guess is right. The
// property is asserted on what reaches node:crypto's timingSafeEqual (spied, still run): every compare of
// a login attempt, over HTTP as on the direct function, is of two equal-length digests, never of the
// password bytes themselves. No wall-clock measurement: timing on a shared machine is noise.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it, mock } from "node:test";
import { createWebApp } from "../../apps/web/app";
import type { CommandSender } from "../../apps/web/broker";
import { memoryLogger } from "../../apps/web/log";
import { passwordMatches } from "../../apps/web/session";
import { DeviceStore } from "../../apps/web/state";

const PASSWORD = "correct horse battery staple";
const GUESSES = ["c", "correct horse battery stapl", "correct horse battery staplex", "x".repeat(200), PASSWORD];

/** Spies on timingSafeEqual for the duration of fn; returns the argument pairs it saw. */
async function compares(fn: () => Promise<unknown> | unknown): Promise<[Buffer, Buffer][]> {
  const spy = mock.method(crypto, "timingSafeEqual");
  try {
    await fn();
    return spy.mock.calls.map((c) => [Buffer.from(c.arguments[0] as Buffer), Buffer.from(c.arguments[1] as Buffer)]);
  } finally {
    spy.mock.restore();
  }
}

function assertDigestCompare(pairs: [Buffer, Buffer][], guess: string): void {
  assert.ok(pairs.length >= 1, `no constant-time compare for the guess ${JSON.stringify(guess)}`);
  const lengths = new Set(pairs.flatMap(([a, b]) => [a.length, b.length]));
  assert.equal(lengths.size, 1, "both sides of every compare have the same length, whatever the guess");
  for (const [a, b] of pairs) {
    for (const side of [a, b]) {
      assert.ok(!side.includes(Buffer.from(PASSWORD)), "the password itself is not what is compared");
      if (guess.length >= 8) assert.ok(!side.includes(Buffer.from(guess)), "nor the guess");
    }
  }
}

describe("attack: timing the password compare", () => {
  afterEach(() => mock.restoreAll());

  it("passwordMatches compares equal-length digests with timingSafeEqual, whatever the guess's length", async () => {
    const seen = new Set<number>();
    for (const guess of GUESSES) {
      const pairs = await compares(() => assert.equal(passwordMatches(guess, PASSWORD), guess === PASSWORD));
      assertDigestCompare(pairs, guess);
      for (const [a] of pairs) seen.add(a.length);
    }
    assert.equal(seen.size, 1, "the compared length does not depend on the guess");
  });

  it("POST /api/login runs the same constant-time compare for every guess", async () => {
    const sender = Object.assign(new EventEmitter(), {
      connected: true,
      sendCommand: async () => "req",
    }) as unknown as CommandSender;
    const web = createWebApp({
      store: new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }]),
      broker: sender,
      password: PASSWORD,
      sessionSecret: "0123456789abcdef0123456789abcdef",
      logger: memoryLogger(),
      cookieSecure: false,
      loginRateLimit: { windowMs: 60_000, limit: 100 },
    });
    const server = web.app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const guess of GUESSES) {
        let status = 0;
        const pairs = await compares(async () => {
          const res = await fetch(`${base}/api/login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ password: guess }),
          });
          status = res.status;
          await res.arrayBuffer();
        });
        assert.equal(status, guess === PASSWORD ? 200 : 401, guess);
        assertDigestCompare(pairs, guess);
      }
    } finally {
      web.closeStreams();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
