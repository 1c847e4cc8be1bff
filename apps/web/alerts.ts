// Device offline/online alerts for the web app, and the mail transport they use.
//
// The web app sees every device's retained `status` (online / offline, offline being the Last Will).
// A device that stays offline for `offlineAfterMs` produces one mail; it produces at most one offline
// mail per `rateLimitMs` window, so a flapping board cannot flood the inbox. When a device that was
// reported offline comes back, a recovery mail follows. Mails go through postfix's sendmail when an
// alert address is configured; otherwise they are only logged and the stack works the same.
import { spawn } from "node:child_process";
import { z } from "zod";
import { isDeviceId } from "../../protocol";
import { EMAIL_ADDRESS, isEmailAddress } from "../../protocol/email";

export interface AlertMail {
  subject: string;
  text: string;
}

export type SendMail = (mail: AlertMail) => void | Promise<void>;

/** The two timer functions the alerter needs; tests pass a fake clock. */
export interface AlertTimers {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

export interface OfflineAlerterOptions {
  /** How long a device must stay offline before it is mailed about (stack: offlineAlertMinutes). */
  offlineAfterMs: number;
  /** At most one offline mail per device within this window (stack: alertRateLimitMinutes). */
  rateLimitMs: number;
  send: SendMail;
  now?: () => number;
  timers?: AlertTimers;
  /** Where a failing send is reported; defaults to console.error. */
  onError?: (err: unknown) => void;
}

export type DeviceStatus = "online" | "offline";

export interface OfflineAlerter {
  /** Feed every status change (or repeat) of a device. Unknown ids are ignored. */
  status(deviceId: string, status: DeviceStatus): void;
  /** Cancels pending timers; no mail is sent afterwards. */
  stop(): void;
}

interface DeviceAlertState {
  offlineSince?: number; // set while the device is offline
  timer?: unknown; // pending offline alert
  alerted: boolean; // an offline mail went out for the current outage
  lastAlertAt?: number; // when the last offline mail went out
  suppressed: number; // outages not mailed because of the rate limit since the last mail
}

const realTimers: AlertTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // an alert timer must never keep the process alive
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m === 1 ? "1 minute" : `${m} minutes`;
}

export function createOfflineAlerter(opts: OfflineAlerterOptions): OfflineAlerter {
  if (!(opts.offlineAfterMs > 0)) throw new Error("offlineAfterMs must be a positive number of milliseconds");
  if (!(opts.rateLimitMs >= 0)) throw new Error("rateLimitMs must be zero or a positive number of milliseconds");
  const now = opts.now ?? Date.now;
  const timers = opts.timers ?? realTimers;
  const onError = opts.onError ?? ((err: unknown) => console.error("alert mail failed:", err));
  const devices = new Map<string, DeviceAlertState>();
  let stopped = false;

  const deliver = (mail: AlertMail) => {
    try {
      Promise.resolve(opts.send(mail)).catch(onError);
    } catch (err) {
      onError(err);
    }
  };

  const fire = (id: string, d: DeviceAlertState) => {
    d.timer = undefined;
    if (stopped || d.offlineSince === undefined) return;
    const t = now();
    if (d.lastAlertAt !== undefined && t - d.lastAlertAt < opts.rateLimitMs) {
      d.suppressed += 1;
      return;
    }
    const since = new Date(d.offlineSince).toISOString();
    const extra =
      d.suppressed > 0
        ? `\n${d.suppressed} earlier outage(s) of this device were not mailed (at most one offline alert per ${minutes(opts.rateLimitMs)}).`
        : "";
    d.alerted = true;
    d.lastAlertAt = t;
    d.suppressed = 0;
    deliver({
      subject: `device ${id} is offline`,
      text: `Device ${id} has been offline since ${since} (longer than ${minutes(opts.offlineAfterMs)}).${extra}\n`,
    });
  };

  return {
    status(deviceId, status) {
      if (stopped || !isDeviceId(deviceId)) return;
      let d = devices.get(deviceId);
      if (!d) {
        d = { alerted: false, suppressed: 0 };
        devices.set(deviceId, d);
      }
      const state = d;
      if (status === "offline") {
        if (state.offlineSince !== undefined) return; // a repeated offline does not restart the clock
        state.offlineSince = now();
        state.timer = timers.setTimeout(() => fire(deviceId, state), opts.offlineAfterMs);
        return;
      }
      // online
      if (state.timer !== undefined) timers.clearTimeout(state.timer);
      state.timer = undefined;
      const since = state.offlineSince;
      state.offlineSince = undefined;
      if (state.alerted && since !== undefined) {
        state.alerted = false;
        const down = now() - since;
        deliver({
          subject: `device ${deviceId} is back online`,
          text: `Device ${deviceId} is online again after ${minutes(down)} offline (since ${new Date(since).toISOString()}).\n`,
        });
      }
    },
    stop() {
      stopped = true;
      for (const d of devices.values()) if (d.timer !== undefined) timers.clearTimeout(d.timer);
      devices.clear();
    },
  };
}

export interface MailTransportOptions {
  /** stack: alertEmail. Without it mails are logged only. */
  to?: string;
  /** Prefix of every subject, e.g. the stack name. */
  subjectPrefix?: string;
  sendmailPath?: string;
  log?: (line: string) => void;
}

/** Formats an RFC 5322 message; header values are single lines (no header injection). */
export function formatMail(to: string, mail: AlertMail, subjectPrefix = "[diy-cloud]", date = new Date()): string {
  const oneLine = (s: string) => s.replace(/[\r\n]+/g, " ").trim();
  return [
    `To: ${oneLine(to)}`,
    `Subject: ${oneLine(`${subjectPrefix} ${mail.subject}`)}`,
    `Date: ${date.toUTCString().replace("GMT", "+0000")}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "Auto-Submitted: auto-generated",
    "",
    mail.text.replace(/\r?\n/g, "\n"),
  ].join("\n");
}

/**
 * A SendMail that pipes the message to sendmail (postfix's, which relays through the configured SMTP
 * host and rewrites the sender), or only logs it when no alert address is configured.
 */
export function createMailTransport(opts: MailTransportOptions): SendMail {
  const log = opts.log ?? ((line: string) => console.log(line));
  const to = opts.to?.trim();
  if (!to) {
    return (mail) => log(`alert (no alertEmail configured, not mailed): ${mail.subject}`);
  }
  if (!isEmailAddress(to)) throw new Error(`alert address "${to}" is not a plain email address`);
  const sendmail = opts.sendmailPath ?? "/usr/sbin/sendmail";
  return (mail) =>
    new Promise<void>((resolve, reject) => {
      // -i: a lone "." line does not end the message; "--" then the recipient, never parsed as an option.
      const child = spawn(sendmail, ["-i", "--", to], { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => {
        stderr += b.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => {
        if (code === 0) {
          log(`alert mailed to ${to}: ${mail.subject}`);
          resolve();
        } else reject(new Error(`${sendmail} exited with ${code}: ${stderr.trim()}`));
      });
      child.stdin.end(formatMail(to, mail, opts.subjectPrefix));
    });
}

/**
 * config.json `alerts`, part of the web config's schema (apps/web/config.ts); the Pulumi program renders it from
 * offlineAlertMinutes, alertRateLimitMinutes and alertEmail.
 */
export const AlertsConfig = z.strictObject({
  offlineAfterMinutes: z.number().int().min(1).max(1440),
  rateLimitMinutes: z.number().int().min(1).max(10080),
  email: z.string().regex(EMAIL_ADDRESS, "a plain email address").optional(),
});
export type AlertsConfig = z.infer<typeof AlertsConfig>;

/** What the alerter needs from the web app's device store: its "status" event. */
export interface StatusSource {
  on(event: "status", listener: (s: { deviceId: string; online: boolean }) => void): unknown;
}

/**
 * Wires offline alerts to a device store: every status change feeds the alerter; mails go through sendmail
 * when an address is configured, else they are logged. `cfg` was validated with the web config (no second
 * parse here). Returns the alerter (stop() on close).
 */
export function startOfflineAlerts(
  store: StatusSource,
  cfg: AlertsConfig,
  opts: { log: (line: string) => void; sendmailPath?: string; now?: () => number; timers?: AlertTimers },
): OfflineAlerter {
  const alerter = createOfflineAlerter({
    offlineAfterMs: cfg.offlineAfterMinutes * 60_000,
    rateLimitMs: cfg.rateLimitMinutes * 60_000,
    send: createMailTransport({ to: cfg.email, log: opts.log, sendmailPath: opts.sendmailPath }),
    onError: (err) => opts.log(`alert mail failed: ${err instanceof Error ? err.message : String(err)}`),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.timers ? { timers: opts.timers } : {}),
  });
  store.on("status", (s) => alerter.status(s.deviceId, s.online ? "online" : "offline"));
  return alerter;
}
