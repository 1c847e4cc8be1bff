// The click benchmark's page (bench/click-latency.ts): a process of its own, as a browser is, doing only
// what a page does: its clicks over the live socket (/api/live, as apps/web/public/app.js) or over the HTTP
// API (POST, states on the SSE stream), timing each. Bundled and run with plain `node` by page-process.ts
// (no tsx loader thread, no benchmark heap: in the benchmark's own process each scavenge of its young
// generation held the page for 4-7 ms). Driven over IPC, one block of clicks per message, so nothing
// else runs in this process while it clicks.
import { Agent, request } from "node:http";
import { WebSocket } from "ws";
import { eachPiece } from "./lines";

export type PagePath = "live" | "http";

/** One measured click: ms from click to state on the page, and its hops as wall-clock ms. */
export interface PageClick {
  ms: number;
  req: string;
  sent: number;
  written: number;
  seen: number;
}

export type PageRequest =
  | { op: "block"; path: PagePath; from: number; count: number; warmup: number }
  | { op: "sustained"; path: PagePath; burst: number; inFlight: number };

export type PageReply =
  | { op: "block"; clicks: PageClick[] }
  | { op: "sustained"; answered: number; seconds: number; cpuMs: number }
  | { op: "error"; message: string };

const wall = (t: number) => performance.timeOrigin + t;

interface Channel {
  /** Sends one command; resolves when the state answering it reached the page. */
  click(value: string): Promise<{ req: string; sentAt: number; writtenAt: number; seenAt: number }>;
  close(): void;
}

/** The live socket, as the page uses it: a command frame with its own ref, answered by the device frame naming it. */
async function openLive(base: string, cookie: string, csrf: string): Promise<Channel> {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/api/live`, { headers: { cookie }, origin: base });
  const waiting = new Map<string, (req: string, at: number) => void>();
  ws.on("message", (data) => {
    const at = performance.now();
    const f = JSON.parse(data.toString()) as {
      type: string;
      answers?: string[];
      error?: string;
      device?: { id: string; outputs: { name: string; req?: string }[] };
    };
    if (f.type === "refused") throw new Error(`live socket refused a command: ${f.error}`);
    if (f.type !== "device" || !f.answers) return;
    const req = f.device?.outputs.find((o) => o.name === "led")?.req ?? "";
    for (const ref of f.answers) waiting.get(ref)?.(req, at);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`live socket: HTTP ${res.statusCode}`)));
  });
  (ws as unknown as { _socket: { setNoDelay(b: boolean): void } })._socket.setNoDelay(true);
  let refs = 0;
  return {
    click(value) {
      const ref = String(refs++);
      return new Promise((resolve, reject) => {
        const sentAt = performance.now();
        let writtenAt = Number.NaN;
        const timer = setTimeout(() => reject(new Error(`live socket: command ${ref} not answered in 10 s`)), 10_000);
        waiting.set(ref, (req, seenAt) => {
          clearTimeout(timer);
          waiting.delete(ref);
          resolve({ req, sentAt, writtenAt, seenAt });
        });
        ws.send(JSON.stringify({ type: "command", ref, csrf, device: "pi1", output: "led", value }), () => {
          writtenAt = performance.now();
        });
      });
    },
    close: () => ws.close(),
  };
}

/** The HTTP API: POST the command (202 with its req), the state with that req on the SSE stream. */
async function openHttp(base: string, cookie: string, csrf: string, inFlight: number): Promise<Channel> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const seen = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  const events = await new Promise<() => void>((resolve, reject) => {
    const req = request(`${base}/api/events`, { headers: { cookie, accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
      eachPiece(res, "\n\n", (frame, at) => {
        const data = frame.split("\n").find((l) => l.startsWith("data: "));
        if (!frame.startsWith("event: device") || !data) return;
        const view = JSON.parse(data.slice(6)) as { id: string; outputs: { name: string; req?: string }[] };
        const led = view.outputs.find((o) => o.name === "led");
        if (view.id !== "pi1" || !led?.req) return;
        const wake = waiters.get(led.req);
        if (wake) wake(at);
        else seen.set(led.req, at);
      });
      resolve(() => req.destroy());
    });
    req.setNoDelay(true);
    req.on("error", () => {});
    req.end();
  });
  const post = (value: string, onWritten: (at: number) => void) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const data = JSON.stringify({ value });
      const req = request(
        `${base}/api/devices/pi1/outputs/led`,
        {
          method: "POST",
          agent,
          headers: {
            cookie,
            "x-csrf-token": csrf,
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(data)),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.setNoDelay(true);
      req.on("error", reject);
      req.on("finish", () => onWritten(performance.now()));
      req.end(data);
    });
  return {
    async click(value) {
      const sentAt = performance.now();
      let writtenAt = Number.NaN;
      const res = await post(value, (at) => {
        writtenAt = at;
      });
      if (res.status !== 202) throw new Error(`command: HTTP ${res.status} ${res.body}`);
      const { req } = JSON.parse(res.body) as { req: string };
      const early = seen.get(req);
      seen.delete(req);
      const seenAt =
        early ??
        (await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`state for ${req} never reached the page`)), 10_000);
          waiters.set(req, (t) => {
            clearTimeout(timer);
            waiters.delete(req);
            resolve(t);
          });
        }));
      return { req, sentAt, writtenAt, seenAt };
    },
    close() {
      events();
      agent.destroy();
    },
  };
}

function open(path: PagePath, inFlight = 1): Promise<Channel> {
  const { BENCH_PAGE_BASE: base = "", BENCH_PAGE_COOKIE: cookie = "", BENCH_PAGE_CSRF: csrf = "" } = process.env;
  return path === "live" ? openLive(base, cookie, csrf) : openHttp(base, cookie, csrf, inFlight);
}

/** Opens the path, makes `warmup` unmeasured clicks, then `count` measured ones, and closes it. */
async function block(path: PagePath, from: number, count: number, warmup: number): Promise<PageClick[]> {
  const channel = await open(path);
  try {
    for (let i = 0; i < warmup; i++) await channel.click(i % 2 ? "on" : "off");
    const clicks: PageClick[] = [];
    for (let i = from; i < from + count; i++) {
      const c = await channel.click(i % 2 ? "on" : "off");
      clicks.push({
        ms: c.seenAt - c.sentAt,
        req: c.req,
        sent: wall(c.sentAt),
        written: wall(c.writtenAt),
        seen: wall(c.seenAt),
      });
    }
    return clicks;
  } finally {
    channel.close();
  }
}

/** `burst` toggles with `inFlight` outstanding; counts those whose state reached the page. */
async function sustained(path: PagePath, burst: number, inFlight: number) {
  const channel = await open(path, inFlight);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  let answered = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < burst) {
        next++;
        if (
          await channel.click("toggle").then(
            () => true,
            () => false,
          )
        )
          answered++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  channel.close();
  return { answered, seconds, cpuMs: (used.user + used.system) / 1000 };
}

async function handle(m: PageRequest): Promise<PageReply> {
  if (m.op === "block") return { op: "block", clicks: await block(m.path, m.from, m.count, m.warmup) };
  return { op: "sustained", ...(await sustained(m.path, m.burst, m.inFlight)) };
}

if (require.main === module) {
  process.on("message", (m: PageRequest) => {
    handle(m).then(
      (reply) => process.send?.(reply),
      (e: Error) => process.send?.({ op: "error", message: e.message } satisfies PageReply),
    );
  });
  process.on("disconnect", () => process.exit(0));
}
