// Click -> state: POST /api/devices/pi1/outputs/led through the web app, the rendered broker (mTLS)
// and a simulated device, until the page's SSE stream reports the state with that command's req id.
// Baseline in the same run: mosquitto_pub -l -> mosquitto_sub through the same broker (one hop,
// persistent connections: the floor any MQTT path here can reach).
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { topics } from "../protocol";
import { BASELINE_IDS, startBenchStack } from "./lib/stack";
import { type Table, fmt, percentile, report } from "./lib/report";

const CLICKS = Number(process.env.BENCH_CLICKS ?? 2000);
const BURST = Number(process.env.BENCH_BURST ?? 5000);
const IN_FLIGHT = 64;

const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

function http(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(data ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.setNoDelay(true);
    req.on("error", reject);
    req.end(data);
  });
}

/** Calls `each` with every `separator`-terminated piece of a text stream and the time its chunk arrived. */
function eachPiece(stream: NodeJS.ReadableStream, separator: string, each: (piece: string, at: number) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const at = performance.now();
    buf += chunk;
    for (let i = buf.indexOf(separator); i >= 0; i = buf.indexOf(separator)) {
      const piece = buf.slice(0, i);
      buf = buf.slice(i + separator.length);
      each(piece, at);
    }
  });
}

/** Follows the SSE stream and calls back with every req id it reports on pi1/led, with the time seen. */
function followEvents(base: string, cookie: string, onReq: (req: string, at: number) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/events`, { headers: { cookie, accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
      eachPiece(res, "\n\n", (frame, at) => {
        const data = frame.split("\n").find((l) => l.startsWith("data: "));
        if (!frame.startsWith("event: device") || !data) return;
        const view = JSON.parse(data.slice(6)) as { id: string; outputs: { name: string; req?: string }[] };
        const led = view.outputs.find((o) => o.name === "led");
        if (view.id === "pi1" && led?.req) onReq(led.req, at);
      });
      resolve(() => req.destroy());
    });
    req.setNoDelay(true);
    req.on("error", () => {});
    req.end();
  });
}

interface Latencies {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

function summarize(ms: number[]): Latencies {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? Number.NaN, n: s.length };
}

async function product(): Promise<{ clicks: Latencies; rate: number; lost: number; sent: number }> {
  const stack = await startBenchStack("click");
  try {
    const base = stack.web.url;
    const login = await http(`${base}/api/login`, "POST", {}, { password: stack.password });
    const cookie = String(login.headers["set-cookie"]).split(";")[0] ?? "";
    const csrf = (JSON.parse(login.body) as { csrfToken: string }).csrfToken;
    const seen = new Map<string, number>();
    const waiters = new Map<string, (at: number) => void>();
    const close = await followEvents(base, cookie, (req, at) => {
      seen.set(req, at);
      waiters.get(req)?.(at);
    });
    await new Promise((r) => setTimeout(r, 300)); // snapshot + retained state first
    const click = async (value: string): Promise<{ req: string; sentAt: number; status: number }> => {
      const sentAt = performance.now();
      const res = await http(
        `${base}/api/devices/pi1/outputs/led`,
        "POST",
        { cookie, "x-csrf-token": csrf },
        { value },
      );
      return {
        req: res.status === 202 ? (JSON.parse(res.body) as { req: string }).req : "",
        sentAt,
        status: res.status,
      };
    };
    const untilSeen = (req: string) =>
      new Promise<number>((resolve, reject) => {
        const at = seen.get(req);
        if (at !== undefined) return resolve(at);
        const timer = setTimeout(() => reject(new Error(`state for ${req} never reached the page`)), 10_000);
        waiters.set(req, (t) => {
          clearTimeout(timer);
          waiters.delete(req);
          resolve(t);
        });
      });

    // Warm up the JIT and the connections, then measure one click at a time.
    for (let i = 0; i < 100; i++) await untilSeen((await click(i % 2 ? "on" : "off")).req);
    const lat: number[] = [];
    for (let i = 0; i < CLICKS; i++) {
      const c = await click(i % 2 ? "on" : "off");
      if (c.status !== 202) throw new Error(`click ${i}: HTTP ${c.status}`);
      lat.push((await untilSeen(c.req)) - c.sentAt);
    }

    // Sustained: BURST toggles with IN_FLIGHT outstanding; every req must come back on the page.
    const reqs: string[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < BURST) {
          next++;
          const c = await click("toggle");
          if (c.status === 202) reqs.push(c.req);
        }
      }),
    );
    await Promise.allSettled(reqs.map((r) => untilSeen(r)));
    const elapsed = (performance.now() - t0) / 1000;
    const lost = BURST - reqs.filter((r) => seen.has(r)).length;
    close();
    return { clicks: summarize(lat), rate: BURST / elapsed, lost, sent: BURST };
  } finally {
    await stack.stop();
  }
}

/**
 * mosquitto's own C clients through the same broker. One hop: mosquitto_pub -l -> mosquitto_sub.
 * Round trip: a "device" made of `mosquitto_sub -t set | mosquitto_pub -l -t state` echoes each
 * command as its state, so the measurer sees the same two broker traversals the product does.
 */
async function baseline(mode: "one-hop" | "round-trip"): Promise<Latencies> {
  const stack = await startBenchStack(`click-${mode}`);
  const procs: ChildProcessWithoutNullStreams[] = [];
  try {
    // One identity per connection (the broker binds the client id to the certificate): pi1 reads the
    // commands, the baseline's own commander/watcher/echo identities (bench/lib/stack.ts) do the rest.
    const command = await stack.pki.client(BASELINE_IDS.command);
    const watch = await stack.pki.client(BASELINE_IDS.watch);
    const echo = await stack.pki.client(BASELINE_IDS.echo);
    const dev = await stack.pki.client("pi1");
    await stack.device.stop(); // keep the device service off pi1's client id
    const tlsArgs = (c: { cert: string; key: string }) => [
      "--cafile",
      stack.pki.ca,
      "--cert",
      c.cert,
      "--key",
      c.key,
      "-h",
      "localhost",
      "-p",
      String(stack.broker.port),
      "-V",
      "5",
      "-q",
      "1",
    ];
    const setTopic = topics.set("pi1", "led");
    let sub: ChildProcessWithoutNullStreams;
    if (mode === "one-hop") {
      sub = spawn("mosquitto_sub", [...tlsArgs(dev), "-i", "pi1", "-t", setTopic]);
    } else {
      const devSub = spawn("mosquitto_sub", [...tlsArgs(dev), "-i", "pi1", "-t", setTopic]);
      const devPub = spawn("mosquitto_pub", [
        ...tlsArgs(echo),
        ...["-i", BASELINE_IDS.echo, "-t", topics.state("pi1", "led"), "-l"],
      ]);
      devSub.stdout.pipe(devPub.stdin);
      procs.push(devSub, devPub);
      sub = spawn("mosquitto_sub", [...tlsArgs(watch), "-i", BASELINE_IDS.watch, "-t", topics.state("pi1", "led")]);
    }
    procs.push(sub);
    await new Promise((r) => setTimeout(r, 500));
    const pub = spawn("mosquitto_pub", [...tlsArgs(command), "-i", BASELINE_IDS.command, "-t", setTopic, "-l"]);
    procs.push(pub);
    await new Promise((r) => setTimeout(r, 500));
    // Lines are matched by their req id, so a late or batched line is never taken for another.
    const waiting = new Map<string, (at: number) => void>();
    eachPiece(sub.stdout, "\n", (line, at) => {
      const req = /"req":"([^"]+)"/.exec(line)?.[1];
      if (req) waiting.get(req)?.(at);
    });
    const once = (i: number) =>
      new Promise<number>((resolve, reject) => {
        const req = `b${i}`;
        const timer = setTimeout(() => reject(new Error(`mosquitto_sub did not see ${req} in 10 s`)), 10_000);
        const sentAt = performance.now();
        waiting.set(req, (at) => {
          clearTimeout(timer);
          waiting.delete(req);
          resolve(at - sentAt);
        });
        pub.stdin.write(`{"value":"${i % 2 ? "on" : "off"}","req":"${req}"}\n`);
      });
    // mosquitto_pub connects in the background: the warm-up also waits for that.
    for (let i = 0; i < 100; i++) await once(-1 - i);
    const lat: number[] = [];
    for (let i = 0; i < CLICKS; i++) lat.push(await once(i));
    return summarize(lat);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await stack.stop();
  }
}

async function main() {
  const ours = await product();
  const floor = await baseline("one-hop");
  const echo = await baseline("round-trip");
  const table: Table = {
    title: `Click -> state on the page: ${CLICKS} sequential clicks (ms)`,
    columns: ["path", "clicks", "p50", "p99", "max"],
    rows: [
      [
        "POST -> web -> broker -> device -> broker -> web -> SSE",
        ours.clicks.n,
        ours.clicks.p50,
        ours.clicks.p99,
        ours.clicks.max,
      ],
      [
        "baseline round trip: mosquitto_pub -> broker -> mosquitto_sub piped to mosquitto_pub -> broker -> mosquitto_sub",
        echo.n,
        echo.p50,
        echo.p99,
        echo.max,
      ],
      ["baseline one hop: mosquitto_pub -l -> broker -> mosquitto_sub", floor.n, floor.p50, floor.p99, floor.max],
    ],
    notes: [
      `overhead over the round-trip baseline: p50 ${fmt(ours.clicks.p50 / echo.p50)}×, p99 ${fmt(ours.clicks.p99 / echo.p99)}×`,
      `overhead over the one-hop baseline: p50 ${fmt(ours.clicks.p50 / floor.p50)}×, p99 ${fmt(ours.clicks.p99 / floor.p99)}×`,
    ],
  };
  const burst: Table = {
    title: `Sustained commands: ${ours.sent} toggles, ${IN_FLIGHT} in flight`,
    columns: ["commands/s", "lost (no state on the page)"],
    rows: [[ours.rate, ours.lost]],
  };
  report("click -> state", [table, burst]);
  agent.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
