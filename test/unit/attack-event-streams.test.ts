// Attacks on GET /api/events (apps/web/event-streams.ts), against the real HTTP server and app, no broker: what a logged-in
// client holding streams open can cost the app. The live socket's counterparts: web-live-socket.test.ts.
import assert from "node:assert/strict";
import { type IncomingMessage, request } from "node:http";
import { after, describe, it } from "node:test";
import { EVENTS_MAX_BUFFERED_BYTES, EVENTS_MAX_STREAMS_PER_SESSION } from "../../apps/web/event-streams";
import { DeviceStore } from "../../apps/web/state";
import { encodeState, topics } from "../../protocol";
import { type RecordingWebApp, startRecordingWebApp } from "../support/web-app";
import { waitUntil } from "../support/wait";

type App = RecordingWebApp;

const running: App[] = [];
after(async () => {
  for (const a of running) await a.close();
});

async function startApp(): Promise<App> {
  const app = await startRecordingWebApp(new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }]));
  running.push(app);
  return app;
}

interface Stream {
  status: number;
  res: IncomingMessage;
  /** Events read so far, by name. */
  count(event: string): number;
  ended: Promise<void>;
  close(): void;
}

/** Opens /api/events as a script would, counting the events it reads. */
function openEvents(base: string, cookie: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/events`, { headers: { cookie } }, (res) => {
      const counts = new Map<string, number>();
      let rest = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        rest += chunk;
        const blocks = rest.split("\n\n");
        rest = blocks.pop() ?? "";
        for (const b of blocks) {
          const name = /^event: (\S+)$/m.exec(b)?.[1];
          if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
        }
      });
      const ended = new Promise<void>((r) => {
        res.once("close", () => r());
        res.once("error", () => r());
      });
      resolve({
        status: res.statusCode ?? 0,
        res,
        count: (e) => counts.get(e) ?? 0,
        ended,
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const events = (app: App, event: string) => app.log.entries.filter((e) => e.event === event);

describe("event streams (/api/events)", () => {
  it(`holds at most ${EVENTS_MAX_STREAMS_PER_SESSION} streams per session: past that 429 and one log line; other sessions are not affected`, async () => {
    const app = await startApp();
    const a = await app.login();
    const b = await app.login();
    const held: Stream[] = [];
    for (let i = 0; i < EVENTS_MAX_STREAMS_PER_SESSION; i++) {
      const s = await openEvents(app.base, a.cookie);
      assert.equal(s.status, 200, `stream ${i + 1}`);
      held.push(s);
    }
    const refused = await openEvents(app.base, a.cookie);
    assert.equal(refused.status, 429);
    assert.equal(events(app, "events_too_many_streams").length, 1);
    const other = await openEvents(app.base, b.cookie);
    assert.equal(other.status, 200, "another session still opens one");
    // Closing one gives its place back.
    held[0]?.close();
    await waitUntil(async () => (await openEvents(app.base, a.cookie)).status === 200, "a place freed");
  });

  it("drops a stream whose client stops reading once over 1 MiB is queued for it; the others carry on", async () => {
    const app = await startApp();
    const s = await app.login();
    const slow = await openEvents(app.base, s.cookie);
    const reader = await openEvents(app.base, s.cookie);
    // The slow client stops reading its socket: what the app writes queues in the kernel, then in the app.
    slow.res.pause();
    slow.res.socket.pause();
    // Broker up/down events go to every stream (~60 bytes each): emit until the slow one is dropped. The reader
    // shares this process, so each round waits until it has read what was sent (else it too could fall behind).
    let emitted = 0;
    for (let round = 0; round < 400 && events(app, "events_client_too_slow").length === 0; round++) {
      for (let i = 0; i < 5_000; i++, emitted++) app.sender.emit("connection", i % 2 === 0);
      const sent = emitted;
      await waitUntil(() => reader.count("broker") >= sent, "the reader has read the round");
    }
    const [line] = events(app, "events_client_too_slow");
    assert.ok(line, "events_client_too_slow logged");
    assert.ok(Number(line.buffered) > EVENTS_MAX_BUFFERED_BYTES, `buffered ${line.buffered}`);
    assert.equal(events(app, "events_client_too_slow").length, 1, "once, not per event");
    slow.res.socket.resume();
    slow.res.resume();
    await slow.ended;
    // The client that reads keeps its stream and still gets device changes.
    assert.equal(reader.res.destroyed, false);
    const before = reader.count("device");
    assert.ok(app.store.apply(topics.state("pi1", "led"), encodeState("on", "after")).ok);
    await waitUntil(() => reader.count("device") > before, "a device event on the reader's stream");
    reader.close();
  });

  it("serves every stream from one listener each on the device changes, inputs and the broker link", async () => {
    const app = await startApp();
    const listeners = () => [app.store.listenerCount("input"), app.sender.listenerCount("connection")];
    const idle = listeners();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const a = await app.login();
      const b = await app.login();
      const streams = [
        ...(await Promise.all(Array.from({ length: 12 }, () => openEvents(app.base, a.cookie)))),
        ...(await Promise.all(Array.from({ length: 12 }, () => openEvents(app.base, b.cookie)))),
      ];
      assert.ok(streams.every((s) => s.status === 200));
      assert.deepEqual(
        listeners(),
        idle.map((n) => n + 1),
      );
      app.sender.emit("connection", false);
      await waitUntil(() => streams.every((s) => s.count("broker") === 1), "every stream got the broker event");
      for (const s of streams) s.close();
      await waitUntil(() => listeners().every((n, i) => n === idle[i]), "listeners gone with the last stream");
      assert.deepEqual(
        warnings.filter((w) => w.name === "MaxListenersExceededWarning"),
        [],
      );
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("logout ends that session's streams and no other's", async () => {
    const app = await startApp();
    const a = await app.login();
    const b = await app.login();
    const mine = [await openEvents(app.base, a.cookie), await openEvents(app.base, a.cookie)];
    const theirs = await openEvents(app.base, b.cookie);
    const out = await fetch(`${app.base}/api/logout`, {
      method: "POST",
      headers: { cookie: a.cookie, "x-csrf-token": a.csrf },
    });
    assert.equal(out.status, 200);
    await Promise.all(mine.map((s) => s.ended));
    assert.equal(theirs.res.destroyed, false, "the other session's stream stays");
    theirs.close();
  });
});
