// What the tests do from outside the VMs: HTTP(S) through nginx's forwarded ports, MQTT over mTLS.
import http from "node:http";
import https from "node:https";
import type { MqttClient } from "mqtt";
import { connectOnce } from "../../support/mqtt";

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequest {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** HTTPS: trust this CA and verify this server name; plain HTTP when omitted. */
  tls?: { ca: string; servername?: string };
}

export function request(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const base = {
      host: "127.0.0.1",
      port: req.port,
      path: req.path,
      method: req.method ?? "GET",
      headers: { ...(req.tls?.servername ? { host: req.tls.servername } : {}), ...req.headers },
      timeout: 30_000,
    };
    const onResponse = (res: http.IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    };
    const r = req.tls
      ? https.request(
          { ...base, ca: req.tls.ca, ...(req.tls.servername ? { servername: req.tls.servername } : {}) },
          onResponse,
        )
      : http.request(base, onResponse);
    r.on("timeout", () => r.destroy(new Error(`${base.method} ${req.path}: timed out`)));
    r.on("error", reject);
    r.end(req.body);
  });
}

/**
 * Reads a text/event-stream until `match` accepts an event's data, or rejects after `timeoutMs`.
 */
export function waitForEvent(
  req: HttpRequest,
  match: (event: string, data: unknown) => boolean,
  timeoutMs: number,
): { ready: Promise<void>; result: Promise<{ event: string; data: unknown }>; close: () => void } {
  let close = () => undefined as void;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  const result = new Promise<{ event: string; data: unknown }>((resolve, reject) => {
    if (!req.tls) return reject(new Error("event stream needs TLS settings"));
    const r = https.request(
      {
        host: "127.0.0.1",
        port: req.port,
        path: req.path,
        method: "GET",
        headers: {
          ...(req.tls.servername ? { host: req.tls.servername } : {}),
          accept: "text/event-stream",
          ...req.headers,
        },
        ca: req.tls.ca,
        ...(req.tls.servername ? { servername: req.tls.servername } : {}),
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`event stream: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        markReady();
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (c: string) => {
          buf += c;
          let i = buf.indexOf("\n\n");
          while (i >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = "message";
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
            }
            if (data) {
              let parsed: unknown = data;
              try {
                parsed = JSON.parse(data);
              } catch {
                // keep the raw text
              }
              if (match(event, parsed)) {
                clearTimeout(timer);
                resolve({ event, data: parsed });
                r.destroy();
                return;
              }
            }
            i = buf.indexOf("\n\n");
          }
        });
      },
    );
    const timer = setTimeout(() => {
      r.destroy();
      reject(new Error(`event stream: no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    close = () => {
      clearTimeout(timer);
      r.destroy();
    };
    r.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    r.end();
  });
  return { ready, result, close: () => close() };
}

export interface MqttCreds {
  ca: string;
  cert?: string;
  key?: string;
  /** TLS name to verify when the address is not in the certificate. */
  servername?: string;
}

/** connectOnce (test/support/mqtt.ts) with a VM's patience: CONNACK within 20 s through a forwarded port. */
export function mqttConnect(port: number, creds: MqttCreds, clientId: string): Promise<MqttClient> {
  return connectOnce(port, creds, clientId, { connectTimeoutMs: 20_000 });
}
