// The lightest MQTT client there is: one TLS socket, one CONNECT, wait for CONNACK, then idle.
// Thousands of these fit in one process where thousands of full clients would not.
import { type TLSSocket, connect } from "node:tls";

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  servername?: string;
}

function utf8(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** MQTT 5 CONNECT, clean start, no properties, no will. */
export function connectPacket(clientId: string, keepaliveSeconds: number): Buffer {
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(keepaliveSeconds);
  const variable = Buffer.concat([utf8("MQTT"), Buffer.from([5, 0x02]), keepalive, varint(0)]);
  const payload = utf8(clientId);
  const rest = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10]), varint(rest.length), rest]);
}

/** Opens a TLS connection and completes the MQTT handshake; resolves with the idle socket. */
export function mqttConnect(
  port: number,
  clientId: string,
  tlsm: TlsMaterial,
  keepaliveSeconds = 300,
  timeoutMs = 30_000,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = connect({
      host: "127.0.0.1",
      port,
      ca: tlsm.ca,
      cert: tlsm.cert,
      key: tlsm.key,
      servername: tlsm.servername ?? "localhost",
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${clientId}: no CONNACK within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setNoDelay(true);
    sock.once("secureConnect", () => sock.write(connectPacket(clientId, keepaliveSeconds)));
    sock.once("data", (d: Buffer) => {
      clearTimeout(timer);
      // CONNACK: 0x20, remaining length, ack flags, reason code (0 = success)
      if (d[0] === 0x20 && d[3] === 0) resolve(sock);
      else {
        sock.destroy();
        reject(new Error(`${clientId}: refused (packet ${d.subarray(0, 4).toString("hex")})`));
      }
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
