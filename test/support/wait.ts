// The one way tests wait for a condition, and the one way they wait for nothing to happen.

export interface WaitOptions {
  /** Default 10 s: generous, since tests run beside others on two loaded cores. */
  timeoutMs?: number;
  /** Default 20 ms; slower for checks that cost something (reading a log, asking a daemon). */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns something other than undefined or false, and resolves with that; fails with
 * "timed out waiting for <what>" after the timeout (`what` may be a function, to add a daemon's log at that point).
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string | (() => string),
  { timeoutMs = 10_000, intervalMs = 20 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Lets in-flight messages arrive before a test asserts that none did (there is no event for "nothing came"). */
export const letMessagesArrive = (ms = 300) => new Promise((r) => setTimeout(r, ms));
