// A cap on input events per device: a token bucket, so a button pressed by a person always gets
// through while a device (or a stolen device key) publishing thousands of events a second reaches
// neither the page, the history nor the log more than the cap allows. Pure: the clock is passed in.

/** Events a device may send at once after a quiet spell. */
export const INPUT_EVENTS_BURST = 20;
/** Events per second a device may keep sending. A person pressing a button makes far fewer. */
export const INPUT_EVENTS_PER_SECOND = 5;

export interface InputLimitOptions {
  burst?: number;
  perSecond?: number;
}

/**
 * What to do with one event: "accept"; "drop" (silently); "drop-first" (the first dropped one of a
 * flood: say so once); "accept-after-flood" (accepted after the device was quiet long enough to fill
 * its bucket again: the flood is over, and `dropped` events were lost in it). Events accepted while
 * a flood goes on (the bucket refills a little) keep it going, so a flood is one log line, not one
 * per refill.
 */
export type InputDecision =
  | { action: "accept" }
  | { action: "accept-after-flood"; dropped: number }
  | { action: "drop-first" }
  | { action: "drop" };

interface Bucket {
  tokens: number;
  at: number;
  /** Dropped in the flood going on; 0 when there is none. */
  dropped: number;
}

export class InputRateLimit {
  readonly burst: number;
  readonly perSecond: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: InputLimitOptions = {}) {
    this.burst = opts.burst ?? INPUT_EVENTS_BURST;
    this.perSecond = opts.perSecond ?? INPUT_EVENTS_PER_SECOND;
    if (!(this.burst >= 1 && this.perSecond > 0)) throw new Error("input limit: burst >= 1 and perSecond > 0");
  }

  /** The limit in words, for the log line. */
  describe(): string {
    return `${this.burst} at once, then ${this.perSecond} per second`;
  }

  take(deviceId: string, nowMs: number): InputDecision {
    let b = this.buckets.get(deviceId);
    if (!b) {
      b = { tokens: this.burst, at: nowMs, dropped: 0 };
      this.buckets.set(deviceId, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, nowMs - b.at) / 1000) * this.perSecond);
    b.at = nowMs;
    if (b.tokens >= 1) {
      const full = b.tokens >= this.burst;
      b.tokens -= 1;
      if (b.dropped === 0 || !full) return { action: "accept" };
      const dropped = b.dropped;
      b.dropped = 0;
      return { action: "accept-after-flood", dropped };
    }
    b.dropped++;
    return b.dropped === 1 ? { action: "drop-first" } : { action: "drop" };
  }
}
