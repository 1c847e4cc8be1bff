// A bridge board's mosquitto files laid out as the install script leaves them (infra/render/scripts/device-install.sh:
// key, ACL and hashed passwords root:mosquitto 0640), for the tests that run the rendered bridge config.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BridgeChild, renderBridgeAcl, renderBridgePasswords } from "../../infra/render/bridge-mosquitto";
import { shareWithDaemon } from "./daemon";

export interface BridgeBoardFiles {
  ca: string;
  cert: string;
  key: string;
  acl: string;
  passwd: string;
  /** The conf.d directory the rendered bridge drop-in goes into. */
  confd: string;
}

export function layBridgeBoard(
  dir: string,
  opts: {
    bridgeId: string;
    children: readonly BridgeChild[];
    passwords: Readonly<Record<string, string>>;
    /** PEM text: the CA the bridge trusts for the cloud, its certificate and key. */
    caPem: string;
    certPem: string;
    keyPem: string;
  },
): BridgeBoardFiles {
  const confd = join(dir, "conf.d");
  mkdirSync(confd, { recursive: true });
  const files = {
    ca: join(dir, "ca.pem"),
    cert: join(dir, "bridge.pem"),
    key: join(dir, "bridge.key"),
    acl: join(dir, "acl"),
    passwd: join(dir, "passwd"),
    confd,
  };
  writeFileSync(files.ca, opts.caPem);
  writeFileSync(files.cert, opts.certPem);
  writeFileSync(files.key, opts.keyPem, { mode: 0o600 });
  shareWithDaemon(files.key, "mosquitto");
  writeFileSync(files.acl, renderBridgeAcl({ bridgeId: opts.bridgeId, children: opts.children }));
  writeFileSync(
    files.passwd,
    renderBridgePasswords({
      bridgeId: opts.bridgeId,
      children: Object.entries(opts.passwords).map(([id, password]) => ({ id, password })),
    }),
  );
  execFileSync("mosquitto_passwd", ["-U", files.passwd]);
  shareWithDaemon(files.passwd, "mosquitto");
  shareWithDaemon(files.acl, "mosquitto");
  return files;
}
