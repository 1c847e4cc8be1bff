// nginx site for the web app: HTTP only redirects (and serves ACME challenges), HTTPS proxies to the
// app on loopback with SSE-friendly settings on the event stream, the page's WebSocket upgraded, HSTS and
// size limits.
import { LIVE_PATH } from "../../apps/web/live-socket";
import { absPath, headedFiles, port, token } from "./text";

const file = headedFiles("#", "infra/render/nginx.ts");

export interface NginxSiteInput {
  source?: string;
  /** The domain, or "_" when the server is reached by IP only. */
  serverName: string;
  tls: { certificate: string; certificateKey: string };
  /** Address:port pairs nginx listens on; a server listens on all addresses (IPv4 and IPv6). */
  listen?: { http?: number; https?: number; address?: string };
  /**
   * The web app: its unix socket (default SERVER_WEB_SOCKET, which only nginx's workers may open), or a TCP
   * address. The app trusts X-Forwarded-For only on its socket (apps/web/listen.ts).
   */
  upstream?: { socket: string } | { host: string; port: number };
  /** Directory certbot's webroot plugin writes challenges into. */
  acmeWebroot?: string;
  /** The web app's server-sent events endpoint (no buffering, long read timeout). */
  eventsPath?: string;
  /** The page's WebSocket (apps/web/live-socket.ts): upgraded, long read timeout, rate-limited as /api/. */
  livePath?: string;
  /** Largest request body accepted, nginx size syntax (16k, 1m). */
  clientMaxBodySize?: string;
  /** Requests per second per client address on /api/ (burst allows a page load's worth). */
  apiRateLimit?: { perSecond: number; burst: number };
}

export const SERVER_NGINX_PATHS = {
  site: "/etc/nginx/sites-available/diy",
  enabled: "/etc/nginx/sites-enabled/diy",
  certificate: "/etc/nginx/tls/server.pem",
  certificateKey: "/etc/nginx/tls/server.key",
  acmeWebroot: "/var/www/letsencrypt",
} as const;

/** The web app's socket on the server (diy-web.service RuntimeDirectory=diy-web; apps/web config listen.socket). */
export const SERVER_WEB_SOCKET = "/run/diy-web/web.sock";
/** The group nginx's workers run as (`user www-data;` in Debian's and Ubuntu's nginx.conf): the socket's group. */
export const NGINX_WORKER_GROUP = "www-data";
/** The shipped site's proxy_pass target: the socket path between colons (nginx docs, proxy_pass). */
export const SERVER_WEB_UPSTREAM = `http://unix:${SERVER_WEB_SOCKET}:`;

function upstreamUrl(upstream: NginxSiteInput["upstream"]): string {
  if (upstream === undefined) return SERVER_WEB_UPSTREAM;
  if ("socket" in upstream) {
    if (upstream.socket.includes(":"))
      throw new Error("upstream.socket must not contain a colon (nginx ends the path at one)");
    return `http://unix:${absPath("upstream.socket", upstream.socket)}:`;
  }
  return `http://${token("upstream.host", upstream.host)}:${port("upstream.port", upstream.port)}`;
}

/**
 * TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305 only, for ECDSA
 * and RSA certificates: Mozilla's "intermediate" profile (wiki.mozilla.org/Security/Server_Side_TLS)
 * without its DHE suites. nginx's default (HIGH:!aNULL:!MD5) also offers the CBC suites (Lucky13 and
 * padding-oracle family). TLS 1.3 ignores ssl_ciphers (nginx docs): OpenSSL's default TLS 1.3 suites
 * are all AEAD.
 */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
] as const;

/**
 * HSTS, two years (hstspreload.org asks for at least one; two is its recommendation). nginx owns it because
 * it terminates TLS, and adds it to its own responses too (`always`: redirects aside, errors like 413 and 429
 * are nginx's). The headers that describe the page (CSP, framing, referrer, nosniff) are the app's
 * (apps/web/app.ts) and pass through unchanged: one owner per header, each sent once.
 */
export const HSTS = "max-age=63072000";

function sizeValue(what: string, v: string): string {
  if (!/^[0-9]+[km]?$/.test(v))
    throw new Error(`${what} must be an nginx size like 16k or 1m, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The headers every proxied request carries. nginx inherits proxy_set_header from the server level only into a
 * location that sets none itself (nginx docs, ngx_http_proxy_module, proxy_set_header): a location that adds one
 * must repeat these, or the app loses the client's address and the Host its Origin check compares.
 */
const FORWARDING_HEADERS = [
  "proxy_set_header Host $host;",
  "proxy_set_header X-Real-IP $remote_addr;",
  "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
  "proxy_set_header X-Forwarded-Proto $scheme;",
] as const;

/** A server block's opening: where it listens (one address, or all of IPv4 and IPv6), its name, no version. */
function serverOpening(address: string | undefined, p: number, params: string, serverName: string): string[] {
  const suffix = `${params} default_server`;
  const listen =
    address === undefined
      ? [`    listen ${p}${suffix};`, `    listen [::]:${p}${suffix};`]
      : [`    listen ${token("listen.address", address)}:${p}${suffix};`];
  return ["server {", ...listen, `    server_name ${serverName};`, "    server_tokens off;"];
}

export function renderNginxSite(input: NginxSiteInput): string {
  const serverName = token("serverName", input.serverName);
  const httpPort = port("listen.http", input.listen?.http ?? 80);
  const httpsPort = port("listen.https", input.listen?.https ?? 443);
  const upstream = upstreamUrl(input.upstream);
  const events = token("eventsPath", input.eventsPath ?? "/api/events");
  const live = token("livePath", input.livePath ?? LIVE_PATH);
  const rate = input.apiRateLimit ?? { perSecond: 10, burst: 40 };
  // nginx's own answer past the rate is 429 (its default 503 would read as the app being down).
  const apiRateLimit = [`        limit_req zone=diy_api burst=${rate.burst} nodelay;`, "        limit_req_status 429;"];
  const httpsRedirect = httpsPort === 443 ? "https://$host$request_uri" : `https://$host:${httpsPort}$request_uri`;
  return file(input.source, [
    "",
    `limit_req_zone $binary_remote_addr zone=diy_api:10m rate=${rate.perSecond}r/s;`,
    "",
    ...serverOpening(input.listen?.address, httpPort, "", serverName),
    "",
    "    location /.well-known/acme-challenge/ {",
    `        root ${absPath("acmeWebroot", input.acmeWebroot ?? SERVER_NGINX_PATHS.acmeWebroot)};`,
    "    }",
    "",
    "    location / {",
    `        return 301 ${httpsRedirect};`,
    "    }",
    "}",
    "",
    ...serverOpening(input.listen?.address, httpsPort, " ssl http2", serverName),
    "",
    `    ssl_certificate ${absPath("tls.certificate", input.tls.certificate)};`,
    `    ssl_certificate_key ${absPath("tls.certificateKey", input.tls.certificateKey)};`,
    "    ssl_protocols TLSv1.2 TLSv1.3;",
    `    ssl_ciphers ${TLS12_CIPHERS.join(":")};`,
    "    ssl_prefer_server_ciphers off;",
    "    ssl_session_cache shared:diy_tls:10m;",
    "    ssl_session_timeout 1d;",
    "    ssl_session_tickets off;",
    "",
    `    client_max_body_size ${sizeValue("clientMaxBodySize", input.clientMaxBodySize ?? "16k")};`,
    "    client_body_buffer_size 16k;",
    "    client_body_timeout 10s;",
    "    client_header_timeout 10s;",
    "    large_client_header_buffers 4 8k;",
    "",
    `    add_header Strict-Transport-Security "${HSTS}" always;`,
    "",
    "    proxy_http_version 1.1;",
    '    proxy_set_header Connection "";',
    ...FORWARDING_HEADERS.map((h) => `    ${h}`),
    "",
    `    location ${events} {`,
    `        proxy_pass ${upstream};`,
    "        proxy_buffering off;",
    "        proxy_cache off;",
    "        proxy_read_timeout 1h;",
    "    }",
    "",
    // WebSocket proxying (https://nginx.org/en/docs/http/websocket.html): Upgrade and Connection are
    // hop-by-hop, so nginx passes them on only when set here, and tunnels once the app answers 101; the server
    // level's `Connection ""` (upstream keepalive) is overridden. The app pings every 25 s (LIVE_PING_MS), well
    // inside the read timeout. The upgrade request counts against the /api/ rate like any other request.
    `    location = ${live} {`,
    ...apiRateLimit,
    `        proxy_pass ${upstream};`,
    "        proxy_http_version 1.1;",
    "        proxy_set_header Upgrade $http_upgrade;",
    '        proxy_set_header Connection "upgrade";',
    ...FORWARDING_HEADERS.map((h) => `        ${h}`),
    "        proxy_read_timeout 1h;",
    "    }",
    "",
    "    location /api/ {",
    ...apiRateLimit,
    `        proxy_pass ${upstream};`,
    "    }",
    "",
    "    location / {",
    `        proxy_pass ${upstream};`,
    "    }",
    "}",
  ]);
}
