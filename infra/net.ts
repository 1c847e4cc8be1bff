// Addresses and networks as the stack config and the security group (infra/network.ts) read them. Pure.
import * as net from "node:net";
import { show } from "../device/config-fields";

export type CidrCheck = { ok: true; family: 4 | 6; canonical: string } | { ok: false; why: string };

/** "10.0.0.0/8" -> canonical form or an explanation of what is wrong. */
export function checkCidr(value: string): CidrCheck {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value.trim());
  if (!m) {
    if (net.isIP(value.trim())) {
      const bits = net.isIPv4(value.trim()) ? 32 : 128;
      return { ok: false, why: `${show(value)} is an address, not a CIDR; write ${value.trim()}/${bits} for one host` };
    }
    return { ok: false, why: `${show(value)} is not a CIDR (expected address/prefix, e.g. 198.51.100.7/32)` };
  }
  const [, addr = "", prefixText = ""] = m;
  const prefix = Number(prefixText);
  const family = net.isIP(addr);
  if (family === 0) return { ok: false, why: `${show(addr)} in ${show(value)} is not an IP address` };
  const max = family === 4 ? 32 : 128;
  if (prefix > max) return { ok: false, why: `prefix /${prefix} in ${show(value)} is longer than /${max}` };
  if (family === 4) {
    const n = addr.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix);
    const net4 = n & mask;
    if (net4 !== n) {
      const canon = [24n, 16n, 8n, 0n].map((s) => String((net4 >> s) & 255n)).join(".");
      return { ok: false, why: `${show(value)} has host bits set; the network is ${canon}/${prefix}` };
    }
    return { ok: true, family: 4, canonical: `${addr}/${prefix}` };
  }
  return { ok: true, family: 6, canonical: `${addr.toLowerCase()}/${prefix}` };
}

const HOSTNAME =
  /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** A host name or an IPv4/IPv6 address. */
export function isHost(v: string): boolean {
  return net.isIP(v) !== 0 || HOSTNAME.test(v);
}

export function isIPv4(v: string): boolean {
  return net.isIPv4(v);
}
