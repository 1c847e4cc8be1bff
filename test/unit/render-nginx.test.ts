import assert from "node:assert/strict";
import { test } from "node:test";
import { LIVE_PATH, LIVE_PING_MS } from "../../apps/web/live-socket";
import { renderNginxSite, type NginxSiteInput } from "../../infra/render/nginx";

const base: NginxSiteInput = {
  source: 'stack "dev"',
  serverName: "_",
  tls: { certificate: "/etc/nginx/tls/server.pem", certificateKey: "/etc/nginx/tls/server.key" },
};
const servers = (text: string): string[] => text.split(/^server \{$/m).slice(1);

test("nginx site opens with a header naming the renderer and the stack", () => {
  const text = renderNginxSite(base);
  assert.match(text.split("\n")[0] ?? "", /^# Rendered by diy-device-cloud infra\/render\/nginx\.ts/);
  assert.match(text, /^# Source: stack "dev"$/m);
});

test("nginx redirects plain HTTP to HTTPS but still serves ACME challenges", () => {
  const [http] = servers(renderNginxSite(base));
  assert.match(http ?? "", /listen 80 default_server;/);
  assert.match(http ?? "", /location \/\.well-known\/acme-challenge\/ \{\n\s+root \/var\/www\/letsencrypt;/);
  assert.match(http ?? "", /return 301 https:\/\/\$host\$request_uri;/);
  assert.doesNotMatch(http ?? "", /proxy_pass/);
});

test("nginx serves TLS 1.2+ with the given certificate and proxies to the app's unix socket", () => {
  const [, https] = servers(renderNginxSite(base));
  assert.match(https ?? "", /listen 443 ssl http2 default_server;/);
  assert.match(https ?? "", /ssl_protocols TLSv1\.2 TLSv1\.3;/);
  assert.match(https ?? "", /ssl_certificate \/etc\/nginx\/tls\/server\.pem;/);
  assert.match(https ?? "", /ssl_certificate_key \/etc\/nginx\/tls\/server\.key;/);
  assert.match(https ?? "", /location \/ \{\n\s+proxy_pass http:\/\/unix:\/run\/diy-web\/web\.sock:;/);
  // The app trusts the X-Forwarded-For entry nginx appends ($remote_addr), and nothing else (apps/web/app.ts).
  assert.match(https ?? "", /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
  const tcp = renderNginxSite({ ...base, upstream: { host: "127.0.0.1", port: 3001 } });
  assert.match(tcp, /proxy_pass http:\/\/127\.0\.0\.1:3001;/);
  assert.throws(() => renderNginxSite({ ...base, upstream: { socket: "/run/a:b.sock" } }), /colon/);
});

test("nginx names its TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305 only, no CBC", () => {
  // nginx's default list (HIGH:!aNULL:!MD5) offers CBC suites; the attack suite probes the result with openssl.
  const [, https] = servers(renderNginxSite(base));
  const list = /^ {4}ssl_ciphers (\S+);$/m.exec(https ?? "")?.[1]?.split(":") ?? [];
  assert.ok(list.length > 0, "ssl_ciphers is set");
  for (const c of list) assert.match(c, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  assert.ok(list.some((c) => c.startsWith("ECDHE-RSA-")) && list.some((c) => c.startsWith("ECDHE-ECDSA-")));
});

test("nginx streams server-sent events unbuffered with a long read timeout", () => {
  const text = renderNginxSite(base);
  const block = /location \/api\/events \{([^}]*)\}/.exec(text)?.[1] ?? "";
  assert.match(block, /proxy_buffering off;/);
  assert.match(block, /proxy_read_timeout 1h;/);
  assert.match(block, /proxy_pass http:\/\/unix:\/run\/diy-web\/web\.sock:;/);
});

test("nginx upgrades the page's WebSocket, forwarding the client's headers, past the app's pings, rate-limited", () => {
  // https://nginx.org/en/docs/http/websocket.html: Upgrade and Connection are hop-by-hop and must be set for the
  // proxied request. proxy_set_header is inherited from the server level only by a location that sets none
  // (ngx_http_proxy_module docs): this one sets two, so it must repeat every forwarding header itself.
  const [, https] = servers(renderNginxSite({ ...base, apiRateLimit: { perSecond: 5, burst: 7 } }));
  assert.equal(LIVE_PATH, "/api/live");
  const block = new RegExp(`location = ${LIVE_PATH} \\{([^}]*)\\}`).exec(https ?? "")?.[1] ?? "";
  assert.notEqual(block, "", `an exact location for ${LIVE_PATH}`);
  assert.match(block, /proxy_pass http:\/\/unix:\/run\/diy-web\/web\.sock:;/);
  assert.match(block, /proxy_http_version 1\.1;/);
  assert.match(block, /proxy_set_header Upgrade \$http_upgrade;/);
  assert.match(block, /proxy_set_header Connection "upgrade";/);
  const serverLevel = (https ?? "").split(/\n\s+location /)[0] ?? "";
  const headers = [...serverLevel.matchAll(/^ {4}proxy_set_header (\S+) (.+);$/gm)].filter(
    ([, n]) => n !== "Connection",
  );
  assert.ok(headers.length >= 4, "the server level forwards Host, X-Real-IP, X-Forwarded-For, X-Forwarded-Proto");
  for (const [line] of headers) assert.ok(block.includes(line.trim()), `${LIVE_PATH} repeats ${line.trim()}`);
  // nginx closes a tunnel after proxy_read_timeout without data from the app (default 60s): the app's pings keep
  // it open, and the timeout must be longer than their interval.
  const timeout = /proxy_read_timeout (\d+)([smh]);/.exec(block);
  assert.ok(timeout, "proxy_read_timeout is set");
  const ms = Number(timeout[1]) * { s: 1e3, m: 60e3, h: 3600e3 }[timeout[2] as "s" | "m" | "h"];
  assert.ok(ms > 2 * LIVE_PING_MS, `read timeout ${ms} ms outlasts two pings (${LIVE_PING_MS} ms apart)`);
  assert.match(block, /limit_req zone=diy_api burst=7 nodelay;/);
  assert.match(block, /limit_req_status 429;/);
});

test("nginx sends HSTS on every response and leaves the page's headers to the app, hiding none", () => {
  // One owner per header: nginx terminates TLS, so HSTS is its; CSP, framing, referrer and nosniff describe
  // the page and are the app's (apps/web/app.ts). Through both, test/integration/web-nginx-headers.
  const text = renderNginxSite(base);
  assert.equal(text.match(/add_header /g)?.length, 1);
  assert.match(text, /add_header Strict-Transport-Security "max-age=63072000" always;/);
  assert.doesNotMatch(text, /proxy_hide_header/);
  assert.doesNotMatch(text, /Content-Security-Policy|X-Frame-Options|X-Content-Type-Options|Referrer-Policy/);
});

test("nginx hides its version and limits request bodies and API request rates", () => {
  const text = renderNginxSite({ ...base, clientMaxBodySize: "8k", apiRateLimit: { perSecond: 5, burst: 10 } });
  assert.equal(text.match(/server_tokens off;/g)?.length, 2);
  assert.match(text, /client_max_body_size 8k;/);
  assert.match(text, /limit_req_zone \$binary_remote_addr zone=diy_api:10m rate=5r\/s;/);
  assert.match(text, /location \/api\/ \{\n\s+limit_req zone=diy_api burst=10 nodelay;/);
});

test("nginx listens on one address and custom ports when asked (tests), redirecting to that port", () => {
  const text = renderNginxSite({ ...base, listen: { address: "127.0.0.1", http: 8080, https: 8443 } });
  assert.match(text, /listen 127\.0\.0\.1:8080 default_server;/);
  assert.match(text, /listen 127\.0\.0\.1:8443 ssl http2 default_server;/);
  assert.doesNotMatch(text, /listen \[::\]/);
  assert.match(text, /return 301 https:\/\/\$host:8443\$request_uri;/);
});

test("nginx refuses values that would inject directives", () => {
  assert.throws(() => renderNginxSite({ ...base, serverName: "a; include /etc/passwd" }), /serverName/);
  assert.throws(() => renderNginxSite({ ...base, clientMaxBodySize: "1g; x" }), /clientMaxBodySize/);
});
