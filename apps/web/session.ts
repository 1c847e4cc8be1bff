// Login sessions as signed cookies, and CSRF tokens bound to them. No Express and no I/O in here:
// where revoked sessions are kept is handed in (apps/web/revocations.ts keeps them in a file).
// Cookie value: "<sid>.<expires, unix seconds>.<HMAC-SHA256(sessionKey, sid.expires), base64url>".
// CSRF token:  HMAC-SHA256(csrfKey, sid), sent back by the page in the X-CSRF-Token header.
// The session key depends on the password as well as the secret: changing the password ends every
// session issued before, with no list to keep.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const CSRF_HEADER = "x-csrf-token";

export interface Session {
  sid: string;
  /** Expiry, unix milliseconds. */
  expires: number;
}

export interface IssuedSession extends Session {
  cookieValue: string;
  csrfToken: string;
}

export interface Sessions {
  issue(now?: number): IssuedSession;
  /** The session a cookie value proves, or undefined (bad signature, expired, logged out, garbage). */
  verify(cookieValue: string | undefined, now?: number): Session | undefined;
  csrfToken(sid: string): string;
  checkCsrf(sid: string, token: string | undefined): boolean;
  /** Logout: the cookie stops working even if someone kept a copy. */
  revoke(session: Session): void;
  readonly ttlMs: number;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** Constant-time string equality that does not leak the length either (compares digests). */
export function safeEqual(given: string, expected: string): boolean {
  const k = randomBytes(32);
  return timingSafeEqual(hmac(k, given), hmac(k, expected)) && given.length === expected.length;
}

export function passwordMatches(given: unknown, expected: string): boolean {
  return typeof given === "string" && given.length > 0 && safeEqual(given, expected);
}

/** Where logged-out sessions are remembered until their cookies expire. */
export interface RevocationList {
  /** Session id -> its expiry (unix seconds); entries already expired may be left in. */
  load(): Map<string, number>;
  add(sid: string, expiresUnixSeconds: number): void;
}

/** Revocations kept in memory only: they end with the process (tests, embedding). */
export function memoryRevocations(): RevocationList {
  const entries = new Map<string, number>();
  return { load: () => new Map(entries), add: (sid, exp) => void entries.set(sid, exp) };
}

export interface SessionOptions {
  /** DIY_SESSION_SECRET: signs cookies and CSRF tokens. */
  secret: string;
  /** The web password: part of the session key, so a new password ends the sessions issued before it. */
  password: string;
  ttlMs?: number;
  /** Default: in memory only. The app passes a file in its state directory, so logout outlives a restart. */
  revocations?: RevocationList;
}

export function createSessions(opts: SessionOptions): Sessions {
  const ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
  // Separate keys per purpose, derived from the one secret; the session key also from the password's
  // digest (never the password itself), so cookies signed under an old password no longer verify.
  const passwordDigest = createHash("sha256").update(opts.password).digest("hex");
  const sessionKey = hmac(Buffer.from(opts.secret), `diy-web session v2 ${passwordDigest}`);
  const csrfKey = hmac(Buffer.from(opts.secret), "diy-web csrf v1");
  const store = opts.revocations ?? memoryRevocations();
  const revoked = store.load();

  const sign = (sid: string, exp: number) => hmac(sessionKey, `${sid}.${exp}`).toString("base64url");
  const prune = (now: number) => {
    for (const [sid, exp] of revoked) if (exp * 1000 <= now) revoked.delete(sid);
  };

  return {
    ttlMs,
    issue(now = Date.now()) {
      const sid = randomBytes(18).toString("base64url");
      const exp = Math.floor((now + ttlMs) / 1000);
      return {
        sid,
        expires: exp * 1000,
        cookieValue: `${sid}.${exp}.${sign(sid, exp)}`,
        csrfToken: this.csrfToken(sid),
      };
    },
    verify(cookieValue, now = Date.now()) {
      if (!cookieValue || cookieValue.length > 200) return undefined;
      const m = /^([A-Za-z0-9_-]{24})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(cookieValue);
      if (!m) return undefined;
      const [, sid, expText, mac] = m as unknown as [string, string, string, string];
      const exp = Number(expText);
      const good = Buffer.from(sign(sid, exp));
      const seen = Buffer.from(mac);
      if (good.length !== seen.length || !timingSafeEqual(good, seen)) return undefined;
      if (exp * 1000 <= now) return undefined;
      if (revoked.has(sid)) return undefined;
      return { sid, expires: exp * 1000 };
    },
    csrfToken(sid) {
      return hmac(csrfKey, sid).toString("base64url");
    },
    checkCsrf(sid, token) {
      if (!token || token.length > 100) return false;
      const good = Buffer.from(this.csrfToken(sid));
      const seen = Buffer.from(token);
      return good.length === seen.length && timingSafeEqual(good, seen);
    },
    revoke(session) {
      prune(Date.now());
      const exp = Math.floor(session.expires / 1000);
      revoked.set(session.sid, exp);
      store.add(session.sid, exp);
    },
  };
}

/** `__Host-` prefix when Secure: the browser then refuses it from http or with a Domain. */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-diy_session" : "diy_session";
}

export function sessionCookie(opts: { secure: boolean; value: string; maxAgeSeconds: number }): string {
  const parts = [
    `${sessionCookieName(opts.secure)}=${opts.value}`,
    "Path=/",
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Strict",
  ];
  if (opts.secure) parts.push("Secure");
  return parts.join("; ");
}

/** Reads one cookie from a Cookie header; undefined when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
