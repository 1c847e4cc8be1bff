// A stand-in for AWS IoT Core's ATS data endpoint, enough to see how a client connects: a TLS server that requires a
// client certificate from the given issuer (IoT Core authenticates by certificate) and reads the MQTT CONNECT and
// SUBSCRIBE packets it gets. It holds IoT Core's documented rules for them:
// - AWS IoT Core Developer Guide, "MQTT" > "AWS IoT differences from MQTT specifications": MQTT 3.1.1 (protocol
//   level 4) and 5 only, QoS 0 and 1 only. Another level gets CONNACK 0x01 (3.1.1: unacceptable protocol version);
//   a QoS 2 subscription gets 0x80 (failure).
// - "Thing policy variables": iot:Connect on client/${iot:Connection.Thing.ThingName} admits only the client id that
//   is the thing's name: another client id is disconnected.
// - "Server authentication": the endpoint's certificate names the endpoint (<prefix>-ats.iot.<region>.amazonaws.com)
//   and chains to an Amazon Trust Services root; here a stand-in root (caFile), the endpoint's names given by `names`.
// - "X.509 client certificates" and "Diagnosing connectivity issues": a client must present a certificate registered
//   with AWS IoT and active; here, one from the given issuer. Any other client is refused, here in the TLS handshake
//   (the guide does not say at which step; npm run verify counts a TLS alert, a closed connection and a CONNACK
//   refusal alike, scripts/verify/verdicts.ts classifyMqttAttempt).
// It acknowledges QoS 1 publishes and answers pings, as a broker does. Packet layouts: MQTT 3.1.1 (OASIS) 3.1
// CONNECT, 3.2 CONNACK, 3.3 PUBLISH, 3.4 PUBACK, 3.8 SUBSCRIBE, 3.9 SUBACK, 3.12 PINGREQ, 3.13 PINGRESP; MQTT 5.0 3.1.2.11 and
// 3.8.2.1 (a properties block, its length a variable byte integer, after the CONNECT's keep alive and the SUBSCRIBE's
// packet id), 3.2.2.3 and 3.9.2.1 (the CONNACK's and SUBACK's own, empty here), 3.8.3.1 (the low two bits of the
// subscription options are the QoS).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";
import { createCa, issueCert } from "../../infra/render/x509";
import { freePort } from "./ports";

export interface IotConnect {
  protocolLevel: number;
  cleanSession: boolean;
  keepalive: number;
  clientId: string;
}

export interface IotEndpointStandIn {
  port: number;
  /** The CA the endpoint's certificate chains to, standing in for Amazon's roots (a PEM file). */
  caFile: string;
  /** Every CONNECT, accepted or not. */
  attempts: IotConnect[];
  /** The CONNECTs it accepted. */
  connects: IotConnect[];
  /** The subscriptions it granted. */
  subscribed: { filter: string; qos: number }[];
  /** TLS handshakes it refused (a client without a certificate, or with one it does not know): their error codes. */
  refusedHandshakes: string[];
  close: () => Promise<void>;
}

/** MQTT's variable byte integer (3.1.1 2.2.3, 5.0 1.5.5) at `at`: its value and the offset after it. */
function varInt(buf: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  let mul = 1;
  let i = at;
  for (;;) {
    const b = buf[i++] ?? 0;
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return { value, next: i };
  }
}

/** Whole packets at the start of `buf`, and how many bytes they take. */
function packets(buf: Buffer): { packets: { type: number; flags: number; body: Buffer }[]; used: number } {
  const out: { type: number; flags: number; body: Buffer }[] = [];
  let i = 0;
  while (i + 1 < buf.length) {
    const len = varInt(buf, i + 1);
    if (len.next + len.value > buf.length) break;
    const first = buf[i] ?? 0;
    out.push({ type: first >> 4, flags: first & 0x0f, body: buf.subarray(len.next, len.next + len.value) });
    i = len.next + len.value;
  }
  return { packets: out, used: i };
}

const str = (b: Buffer, at: number) => {
  const n = b.readUInt16BE(at);
  return { value: b.subarray(at + 2, at + 2 + n).toString("utf8"), next: at + 2 + n };
};

/** Past an MQTT 5 properties block (nothing to skip before 5). */
const afterProperties = (b: Buffer, at: number, level: number) => {
  if (level < 5) return at;
  const len = varInt(b, at);
  return len.next + len.value;
};

export async function standInIotEndpoint(
  dir: string,
  clientIssuerPem: string,
  thingName: string,
  opts: { /** DNS names its certificate carries; default localhost (127.0.0.1 always). */ names?: string[] } = {},
): Promise<IotEndpointStandIn> {
  const names = opts.names ?? ["localhost"];
  const serverCa = await createCa({ commonName: "Amazon Root CA stand-in", days: 2 });
  const server = await issueCert(serverCa, {
    commonName: names[0] ?? "localhost",
    kind: "server",
    dnsNames: names,
    ipAddresses: ["127.0.0.1"],
    days: 2,
  });
  const caFile = join(dir, "endpoint-ca.pem");
  writeFileSync(caFile, serverCa.certPem);
  const attempts: IotConnect[] = [];
  const connects: IotConnect[] = [];
  const subscribed: { filter: string; qos: number }[] = [];
  const refusedHandshakes: string[] = [];
  const srv = tls.createServer(
    { cert: server.certPem, key: server.keyPem, ca: clientIssuerPem, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      let pending = Buffer.alloc(0);
      let level = 4;
      socket.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        const got = packets(pending);
        pending = pending.subarray(got.used);
        for (const p of got.packets) {
          if (p.type === 1) {
            const name = str(p.body, 0);
            level = p.body[name.next] ?? 0;
            const flags = p.body[name.next + 1] ?? 0;
            const connect: IotConnect = {
              protocolLevel: level,
              cleanSession: (flags & 0x02) !== 0,
              keepalive: p.body.readUInt16BE(name.next + 2),
              clientId: str(p.body, afterProperties(p.body, name.next + 4, level)).value,
            };
            attempts.push(connect);
            if (level !== 4 && level !== 5) {
              socket.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
              return;
            }
            if (connect.clientId !== thingName) {
              socket.destroy();
              return;
            }
            connects.push(connect);
            socket.write(Buffer.from(level === 5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00]));
          } else if (p.type === 3 && ((p.flags >> 1) & 0x03) === 1) {
            // A QoS 1 PUBLISH is acknowledged (its packet id follows the topic); what it carries is not kept.
            const id = p.body.readUInt16BE(str(p.body, 0).next);
            socket.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
          } else if (p.type === 12) {
            socket.write(Buffer.from([0xd0, 0x00]));
          } else if (p.type === 8) {
            const packetId = p.body.readUInt16BE(0);
            const granted: number[] = [];
            for (let at = afterProperties(p.body, 2, level); at < p.body.length; ) {
              const f = str(p.body, at);
              const qos = (p.body[f.next] ?? 0) & 0x03;
              if (qos <= 1) subscribed.push({ filter: f.value, qos });
              granted.push(qos <= 1 ? qos : 0x80);
              at = f.next + 1;
            }
            const head = level === 5 ? [packetId >> 8, packetId & 0xff, 0x00] : [packetId >> 8, packetId & 0xff];
            socket.write(Buffer.from([0x90, head.length + granted.length, ...head, ...granted]));
          }
        }
      });
      socket.on("error", () => undefined);
    },
  );
  srv.on("tlsClientError", (err: NodeJS.ErrnoException) => refusedHandshakes.push(String(err.code ?? err.message)));
  const port = await freePort();
  await new Promise<void>((resolve) => srv.listen(port, "127.0.0.1", resolve));
  return {
    port,
    caFile,
    attempts,
    connects,
    subscribed,
    refusedHandshakes,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}
