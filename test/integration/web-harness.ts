// The web app from a test's side: log in as a browser does and follow its Server-Sent Events.
/** Logs in to a running web app; returns the cookie header and the CSRF token. */
export async function login(base: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password }),
  });
  if (res.status !== 200) throw new Error(`login failed: HTTP ${res.status} ${await res.text()}`);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrf: csrfToken };
}

/** POSTs a value for a device's output as the page does: session cookie, CSRF token, JSON body {value}. */
export function postCommand(
  base: string,
  session: { cookie: string; csrf: string },
  deviceId: string,
  output: string,
  value: string,
): Promise<Response> {
  return fetch(`${base}/api/devices/${deviceId}/outputs/${output}`, {
    method: "POST",
    headers: { cookie: session.cookie, "x-csrf-token": session.csrf, "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
}

export interface SseEvent {
  event: string;
  data: unknown;
  /** performance.now() when the event was parsed. */
  at: number;
}

/** Follows GET /api/events like a browser's EventSource (one connection, no auto-retry). */
export async function openEvents(base: string, cookie: string) {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/events`, {
    headers: { cookie, accept: "text/event-stream" },
    signal: ac.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let sep = buf.indexOf("\n\n");
        while (sep >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) events.push({ event, data: JSON.parse(data.join("\n")), at: performance.now() });
          for (const w of waiters) w();
          sep = buf.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
    ended = true;
    for (const w of waiters) w();
  })();
  return {
    events,
    get ended() {
      return ended;
    },
    /** Resolves with the first event (from `from` on) matching `match`. */
    async next(match: (e: SseEvent) => boolean, what: string, from = 0, timeoutMs = 10_000): Promise<SseEvent> {
      const found = () => events.slice(from).find(match);
      const hit = found();
      if (hit) return hit;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no SSE event: ${what}; got ${JSON.stringify(events.map((e) => e.event))}`));
        }, timeoutMs);
        const check = () => {
          const e = found();
          if (e) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(e);
          } else if (ended) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`SSE stream ended before: ${what}`));
          }
        };
        waiters.add(check);
      });
    },
    close: () => ac.abort(),
  };
}
