// A ServerFilesInput for the renderer tests of the server's files (infra/render/server-files.ts): stand-in PEMs
// (the renderers only place them), no devices, no mail relay, the web app's broker on the box.
import type { ServerFilesInput } from "../../infra/render/server-files";
import { aclModel } from "../../protocol";

/** A PEM block of this label around `body` (not a real key or certificate: the renderers do not parse them). */
export const PEM = (label: string, body: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(body).toString("base64")}\n-----END ${label}-----\n`;

/** The fixture, with `over` replacing whole top-level parts (acl, postfix, source, ...). */
export function serverFilesInput(over: Partial<ServerFilesInput> = {}): ServerFilesInput {
  return {
    hostname: "iot",
    pki: {
      caCertPem: PEM("CERTIFICATE", "ca"),
      serverCertPem: PEM("CERTIFICATE", "srv"),
      serverKeyPem: PEM("PRIVATE KEY", "srvkey"),
      webCertPem: PEM("CERTIFICATE", "web"),
      webKeyPem: PEM("PRIVATE KEY", "webkey"),
    },
    acl: aclModel({ devices: [] }),
    nginx: { serverName: "_" },
    postfix: {},
    web: {
      bundle: "console.log('web')\n",
      config: {
        broker: {
          url: "mqtts://127.0.0.1:8883",
          ca: "/etc/diy-web/ca.pem",
          cert: "/etc/diy-web/web.pem",
          key: "/etc/diy-web/web.key",
        },
      },
      password: "pass-1",
      sessionSecret: "s".repeat(40),
    },
    ...over,
  };
}
