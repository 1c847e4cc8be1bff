// What every browser test shares: Debian's Chromium driven by playwright-core, and what a page did on the wire
// (its WebSockets with their frames, its requests) and in its console.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { type BrowserContext, type Page, type WebSocket, chromium } from "playwright-core";
import { waitUntil } from "../support/wait";

export const CHROMIUM = "/usr/bin/chromium";

/** Headless Chromium on a fresh profile directory (playwright passes it as --user-data-dir). */
export async function launchChromium(
  profile: string,
  opts: { ignoreHTTPSErrors?: boolean } = {},
): Promise<BrowserContext> {
  // Fail, not skip: a missing browser must not pass for a tested page.
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is not installed: run bash scripts/setup.sh test (or apt-get install chromium)`,
  );
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...opts,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A WebSocket the page opened, with the JSON frames it sent and received, in order. */
export interface SocketSeen {
  ws: WebSocket;
  sent: Record<string, unknown>[];
  received: Record<string, unknown>[];
}

/**
 * Chromium's console lines while the web app is down (a restart): the refused connections, or nginx's 502 for the
 * app. Expected while the page reconnects; any other console line is a problem.
 */
export const SERVER_DOWN =
  /WebSocket connection to '[^']+\/api\/live' failed|net::ERR_CONNECTION_REFUSED|responded with a status of 502/;

/** The HTTP command route (kept for scripts): the page must not use it. */
const COMMAND_ROUTE = /^\/api\/devices\/[^/]+\/outputs\/[^/]+$/;

/**
 * Records from now on what `page` does: console errors and script errors into `problems`, every request as
 * "METHOD /path", every WebSocket with its frames.
 */
export function watchPage(page: Page, problems: string[]) {
  const sockets: SocketSeen[] = [];
  const requests: string[] = [];
  const frameOf = (payload: string | Buffer) => JSON.parse(payload.toString()) as Record<string, unknown>;
  const liveSocket = (): SocketSeen | undefined => sockets.filter((s) => !s.ws.isClosed()).at(-1);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  page.on("websocket", (ws) => {
    const seen: SocketSeen = { ws, sent: [], received: [] };
    sockets.push(seen);
    ws.on("framesent", (f) => seen.sent.push(frameOf(f.payload)));
    ws.on("framereceived", (f) => seen.received.push(frameOf(f.payload)));
  });
  return {
    sockets,
    requests,
    /** The page's live socket: the newest, open. */
    liveSocket,
    /** Waits until `old` is closed and the page has a new socket with its snapshot. */
    async reconnected(old: SocketSeen): Promise<SocketSeen> {
      await waitUntil(() => old.ws.isClosed(), "the old socket closed");
      return waitUntil(
        () => {
          const s = liveSocket();
          return s && s !== old && s.received.some((f) => f.type === "snapshot") && s;
        },
        "a new socket with a snapshot",
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    },
    /** The device frame on `s` that answers the command frame `sent` (its ref in `answers`). */
    answerTo: (s: SocketSeen, sent: Record<string, unknown> | undefined) =>
      s.received.find((f) => f.type === "device" && (f.answers as string[] | undefined)?.includes(String(sent?.ref))),
    /** Commands the page sent over HTTP (it must send none). */
    commandPosts: () => requests.filter((r) => r.startsWith("POST ") && COMMAND_ROUTE.test(r.slice(5))),
  };
}
