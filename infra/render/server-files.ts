// Every file the SSH push puts on the server, with its mode, owner and what must react when it
// changes. Secret files (private keys, SMTP credentials, the web app's secrets) are flagged so the
// caller keeps them out of logs and plain outputs; they travel only on the SSH command's stdin.
import type { WebConfigInput } from "../../apps/web/config";
import type { AclModel, BrokerKind } from "../../protocol";
import {
  type Fail2banJailInput,
  WEB_LOGIN_FILTER_PATH,
  renderFail2banJail,
  renderFail2banWebLoginFilter,
} from "./fail2ban";
import { renderMosquittoConf, type MosquittoLimits, MQTT_TLS_PORT, SERVER_MOSQUITTO_PATHS } from "./mosquitto";
import { renderMosquittoAcl } from "./mosquitto-acl";
import { renderNginxSite, SERVER_NGINX_PATHS } from "./nginx";
import { renderPostfixMainCf, renderSaslPasswd, SERVER_POSTFIX_PATHS, type SmtpRelay } from "./postfix";
import {
  HISTORY_MOUNT_POINT,
  HISTORY_MOUNT_UNIT,
  HISTORY_PREPARE_UNIT,
  HISTORY_SCRIPT_PATH,
  historyDevicePath,
  historyGrowCommand,
  renderHistoryMountUnit,
  renderHistoryPrepareUnit,
  renderHistoryVolumeScript,
} from "./history-volume";
import { renderDiyWebUnit, SERVER_WEB_PATHS, unitFile, WEB_USER } from "./systemd";
import {
  type PushFile,
  type PushLink,
  type PushRemoval,
  type ServerService,
  pushHash,
  renderPushScript,
} from "./push-script";
import { DEFAULT_SOURCE, header, lines, oneLine } from "./text";
import { renderWebConfig, webConfig } from "./web-config";

/** Site symlink and the Debian default site our default_server replaces. */
export const SERVER_LINKS: readonly PushLink[] = [
  { link: SERVER_NGINX_PATHS.enabled, target: SERVER_NGINX_PATHS.site, services: ["nginx"] },
];
export const SERVER_REMOVALS: readonly PushRemoval[] = [
  { path: "/etc/nginx/sites-enabled/default", services: ["nginx"] },
];
/**
 * With the iot-core broker profile: what a push of the mosquitto profile installed, deleted, and the broker stopped
 * for good. A switch of broker launches a fresh server (infra/server.ts serverImageKey), so on the servers `pulumi up`
 * launches these find nothing; they are here for a server that kept mosquitto's files anyway (an up limited with
 * --target to the push), so the stack CA's server key never outlives the profile that used it.
 */
export const RETIRED_MOSQUITTO_FILES: readonly PushRemoval[] = [
  SERVER_MOSQUITTO_PATHS.conf,
  SERVER_MOSQUITTO_PATHS.acl,
  SERVER_MOSQUITTO_PATHS.cafile,
  SERVER_MOSQUITTO_PATHS.certfile,
  SERVER_MOSQUITTO_PATHS.keyfile,
  SERVER_MOSQUITTO_PATHS.crlfile,
].map((path) => ({ path }));
export const RETIRE_MOSQUITTO_SERVICE =
  "if systemctl cat mosquitto.service >/dev/null 2>&1; then systemctl disable --now --quiet mosquitto.service; fi";

/**
 * With the mosquitto profile, before anything is written: a server launched for broker iot-core has no mosquitto
 * package (its user data did not install it). A full `pulumi up` replaces it on the switch; a push that reaches one
 * anyway (an up limited with --target) stops here instead of writing a config no broker reads.
 */
export const MOSQUITTO_REQUIRED = {
  command: "mosquitto",
  otherwise:
    "mosquitto is not installed: this server was created with broker iot-core; a full pulumi up (no --target) launches a new one for broker mosquitto (README: Two brokers)",
};

/** Where the push finds the web app bundle, relative to the SSH user's home (remote.CopyToRemote puts it there). */
export const SERVER_STAGED_DIR = ".diy-device-cloud";
export const SERVER_STAGED_WEB_NAME = "web.js";
export const SERVER_STAGED_WEB_BUNDLE = `${SERVER_STAGED_DIR}/${SERVER_STAGED_WEB_NAME}`;

/** Started at boot; the packages' own services are enabled by their packages. */
export const SERVER_ENABLED: readonly ServerService[] = ["diy-web"];

export interface ServerPki {
  /**
   * The broker's trust anchor: the stack CA (mosquitto verifies clients with it, the web app the broker), or with
   * AWS IoT Core Amazon's roots (infra/amazon-root-ca.ts), which the web app verifies the ATS endpoint with.
   */
  caCertPem: string;
  /** nginx's certificate and, with mosquitto, the broker's (SANs: the address, the domain, localhost). */
  serverCertPem: string;
  serverKeyPem: string;
  /** The web app's MQTT identity: CN web from the stack CA, or its thing's certificate issued by AWS IoT Core. */
  webCertPem: string;
  webKeyPem: string;
  /** Revoked device certificates; omitted when the stack revokes nothing. mosquitto only. */
  crlPem?: string;
}

export interface ServerFilesInput {
  source?: string;
  hostname: string;
  pki: ServerPki;
  /**
   * Which broker the web app talks to (protocol/limits.ts BrokerKind; default mosquitto). With iot-core nothing of
   * mosquitto is pushed (no config, ACL, certificates or CRL; the web unit does not wait for it).
   */
  broker?: BrokerKind;
  /** protocol's aclModel(stack): mosquitto's acl_file. */
  acl: AclModel;
  mosquittoLimits?: Partial<MosquittoLimits>;
  nginx: {
    /** The domain, or "_" when the server is reached by its IP. */
    serverName: string;
    /** Certificate paths already on the server (Let's Encrypt); default: the stack's server cert pushed to /etc/nginx/tls. */
    tls?: { certificate: string; certificateKey: string };
  };
  postfix: { relay?: SmtpRelay; smtpPassword?: string; smtpFrom?: string };
  /** Same jail.local as the user data writes; pushed again so a changed alertEmail takes effect. */
  fail2ban?: Omit<Fail2banJailInput, "source">;
  web: {
    /** The bundled web app (one JavaScript file). */
    bundle: string;
    /** /etc/diy-web/config.json, checked by the web app's own schema; nginx proxies to its `listen`. */
    config: WebConfigInput;
    password: string;
    sessionSecret: string;
  };
  /**
   * The history's own EBS volume (infra/history-storage.ts), mounted on the web app's state directory; omitted
   * (the local demo, fixtures): the history stays on the root disk.
   */
  historyVolume?: HistoryVolumeInput;
  /** More files from other renderers (alerts, certbot, ddns). */
  extraFiles?: readonly PushFile[];
  /** Commands the push runs last (infra/render/ops.ts: timers, first certificate issuance). */
  after?: readonly string[];
}

export interface HistoryVolumeInput {
  volumeId: string;
  /** Decides how the volume shows up on the server (infra/render/history-volume.ts historyDevicePath). */
  instanceType: string;
  sizeGiB: number;
}

/** The history volume's script and units, and the push's closing step that grows a mounted file system. */
export function historyVolumeFiles(source: string, v: HistoryVolumeInput): { files: PushFile[]; after: string[] } {
  const device = historyDevicePath(v);
  const unit = { source, device, volumeId: v.volumeId, sizeGiB: v.sizeGiB };
  const root = (path: string, content: string, mode: string, systemd: boolean): PushFile => ({
    path,
    content,
    mode,
    owner: "root",
    group: "root",
    systemd,
    // The app restarts with its mount: a changed unit takes effect, and a first install mounts the volume.
    services: ["diy-web"],
  });
  return {
    files: [
      root(HISTORY_SCRIPT_PATH, renderHistoryVolumeScript({ source }), "0755", false),
      root(unitFile(HISTORY_PREPARE_UNIT), renderHistoryPrepareUnit(unit), "0644", true),
      root(unitFile(HISTORY_MOUNT_UNIT), renderHistoryMountUnit(unit), "0644", true),
    ],
    after: [historyGrowCommand(device)],
  };
}

/** systemd EnvironmentFile: KEY="value" with the value's backslashes, quotes and $ escaped. */
export function renderEnvFile(input: { source?: string; vars: Record<string, string> }): string {
  const out = header("#", "infra/render/server-files.ts", input.source ?? DEFAULT_SOURCE);
  for (const [key, value] of Object.entries(input.vars)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`environment variable name is not valid: ${key}`);
    oneLine(key, value);
    out.push(`${key}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`);
  }
  return lines(out);
}

function pem(what: string, text: string): string {
  if (!/^-----BEGIN [A-Z0-9 ]+-----\r?\n/.test(text)) throw new Error(`${what} is not PEM text`);
  return text.endsWith("\n") ? text : `${text}\n`;
}

export function renderServerFiles(input: ServerFilesInput): PushFile[] {
  const source = input.source ?? DEFAULT_SOURCE;
  const m = SERVER_MOSQUITTO_PATHS;
  const { pki } = input;
  const localBroker = (input.broker ?? "mosquitto") === "mosquitto";
  if (!localBroker && pki.crlPem !== undefined)
    throw new Error("pki.crlPem: AWS IoT Core takes no CRL; a revoked device's certificate is deactivated instead");
  const mosq = (path: string, content: string, mode: string, secret = false): PushFile => ({
    path,
    content,
    mode,
    owner: "root",
    group: "mosquitto",
    secret,
    services: ["mosquitto"],
  });
  const web = (path: string, content: string, mode: string, secret = false): PushFile => ({
    path,
    content,
    mode,
    owner: "root",
    group: WEB_USER,
    secret,
    services: ["diy-web"],
  });
  // One value for both ends of the proxy: where the app listens is where nginx sends requests.
  const { listen } = webConfig(input.web.config);
  const nginxTls = input.nginx.tls ?? {
    certificate: SERVER_NGINX_PATHS.certificate,
    certificateKey: SERVER_NGINX_PATHS.certificateKey,
  };
  const mosquittoFiles = (): PushFile[] => [
    mosq(
      m.conf,
      renderMosquittoConf({
        source,
        listener: { port: MQTT_TLS_PORT },
        tls: {
          cafile: m.cafile,
          certfile: m.certfile,
          keyfile: m.keyfile,
          crlfile: pki.crlPem === undefined ? undefined : m.crlfile,
        },
        aclFile: m.acl,
        persistenceDir: m.persistenceDir,
        log: { to: "stderr" },
        limits: input.mosquittoLimits,
      }),
      "0644",
    ),
    mosq(m.acl, renderMosquittoAcl({ ...input.acl, source }), "0640"),
    mosq(m.cafile, pem("pki.caCertPem", pki.caCertPem), "0644"),
    mosq(m.certfile, pem("pki.serverCertPem", pki.serverCertPem), "0644"),
    mosq(m.keyfile, pem("pki.serverKeyPem", pki.serverKeyPem), "0640", true),
    ...(pki.crlPem === undefined ? [] : [mosq(m.crlfile, pem("pki.crlPem", pki.crlPem), "0644")]),
  ];
  const files: PushFile[] = [
    ...(localBroker ? mosquittoFiles() : []),
    ...(input.nginx.tls === undefined
      ? [
          {
            path: SERVER_NGINX_PATHS.certificate,
            content: pem("pki.serverCertPem", pki.serverCertPem),
            mode: "0644",
            owner: "root",
            group: "root",
            services: ["nginx"],
          } satisfies PushFile,
          {
            path: SERVER_NGINX_PATHS.certificateKey,
            content: pem("pki.serverKeyPem", pki.serverKeyPem),
            mode: "0600",
            owner: "root",
            group: "root",
            secret: true,
            services: ["nginx"],
          } satisfies PushFile,
        ]
      : []),
    {
      path: SERVER_NGINX_PATHS.site,
      content: renderNginxSite({ source, serverName: input.nginx.serverName, tls: nginxTls, upstream: listen }),
      mode: "0644",
      owner: "root",
      group: "root",
      services: ["nginx"],
    },

    {
      path: SERVER_POSTFIX_PATHS.mainCf,
      content: renderPostfixMainCf({
        source,
        hostname: input.hostname,
        relay: input.postfix.relay,
        smtpFrom: input.postfix.smtpFrom,
      }),
      mode: "0644",
      owner: "root",
      group: "root",
      services: ["postfix"],
    },
    ...saslFiles(source, input.postfix),

    {
      path: "/etc/fail2ban/jail.local",
      content: renderFail2banJail({ ...input.fail2ban, source }),
      mode: "0644",
      owner: "root",
      group: "root",
      services: ["fail2ban"],
    },
    {
      path: WEB_LOGIN_FILTER_PATH,
      content: renderFail2banWebLoginFilter({ source }),
      mode: "0644",
      owner: "root",
      group: "root",
      services: ["fail2ban"],
    },

    {
      path: SERVER_WEB_PATHS.unit,
      content: renderDiyWebUnit({
        source,
        requiresMountsFor: input.historyVolume ? [HISTORY_MOUNT_POINT] : undefined,
        localBroker,
      }),
      mode: "0644",
      owner: "root",
      group: "root",
      systemd: true,
      services: ["diy-web"],
    },
    {
      path: SERVER_WEB_PATHS.script,
      content: input.web.bundle,
      mode: "0644",
      owner: "root",
      group: "root",
      services: ["diy-web"],
      // Two megabytes of non-secret code: copied beside the push, out of its stdin (and so out of the state).
      staged: SERVER_STAGED_WEB_BUNDLE,
    },
    web(SERVER_WEB_PATHS.config, renderWebConfig(input.web.config), "0640"),
    web(SERVER_WEB_PATHS.ca, pem("pki.caCertPem", pki.caCertPem), "0644"),
    web(SERVER_WEB_PATHS.cert, pem("pki.webCertPem", pki.webCertPem), "0644"),
    web(SERVER_WEB_PATHS.key, pem("pki.webKeyPem", pki.webKeyPem), "0640", true),
    // Read by systemd (root) before it starts the app as diy-web: root-only.
    {
      path: SERVER_WEB_PATHS.secretsEnv,
      content: renderEnvFile({
        source,
        vars: { DIY_WEB_PASSWORD: input.web.password, DIY_SESSION_SECRET: input.web.sessionSecret },
      }),
      mode: "0600",
      owner: "root",
      group: "root",
      secret: true,
      services: ["diy-web"],
    },
    ...(input.historyVolume ? historyVolumeFiles(source, input.historyVolume).files : []),
    ...(input.extraFiles ?? []),
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`two server files want ${f.path}`);
    seen.add(f.path);
  }
  return files;
}

function saslFiles(source: string, postfix: ServerFilesInput["postfix"]): PushFile[] {
  const { relay } = postfix;
  if (relay?.user === undefined) return [];
  if (!postfix.smtpPassword) throw new Error("postfix.smtpPassword is required when the relay has a user");
  return [
    {
      path: SERVER_POSTFIX_PATHS.saslPasswd,
      content: renderSaslPasswd({ source, relay: { ...relay, user: relay.user }, password: postfix.smtpPassword }),
      mode: "0600",
      owner: "root",
      group: "root",
      secret: true,
      postmap: true,
      services: ["postfix"],
    },
  ];
}

/**
 * The push as the Pulumi program runs it: the files, the script (secret: send on stdin to PUSH_COMMAND), the files
 * to copy beforehand (path relative to the SSH user's home -> content) and a hash of everything pushed.
 */
export function renderServerPush(input: ServerFilesInput & { cloudInitTimeoutSeconds?: number }): {
  files: PushFile[];
  script: string;
  staged: Record<string, string>;
  hash: string;
} {
  const files = renderServerFiles(input);
  const retire = (input.broker ?? "mosquitto") !== "mosquitto";
  const script = renderPushScript({
    source: input.source,
    files,
    links: SERVER_LINKS,
    remove: [...SERVER_REMOVALS, ...(retire ? RETIRED_MOSQUITTO_FILES : [])],
    requires: retire ? [] : [MOSQUITTO_REQUIRED],
    enable: SERVER_ENABLED,
    cloudInitTimeoutSeconds: input.cloudInitTimeoutSeconds,
    after: [
      ...(retire ? [RETIRE_MOSQUITTO_SERVICE] : []),
      ...(input.historyVolume ? historyVolumeFiles(input.source ?? DEFAULT_SOURCE, input.historyVolume).after : []),
      ...(input.after ?? []),
    ],
  });
  const staged = Object.fromEntries(files.flatMap((f) => (f.staged === undefined ? [] : [[f.staged, f.content]])));
  return { files, script, staged, hash: pushHash(files) };
}

export { PUSH_COMMAND } from "./push-script";
export type { PushFile, PushLink, PushRemoval, ServerService } from "./push-script";
