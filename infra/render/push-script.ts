// The SSH push: one bash script, sent on the STDIN of `sudo bash -s` (it carries private keys and
// passwords, which must never reach argv, a file on the way or a log). It waits for cloud-init,
// writes every file atomically with its mode and owner, skips files whose checksum already matches,
// validates (nginx -t, postfix check) and restarts or reloads only the services whose files changed.
// Idempotent: a second run with the same files changes nothing and restarts nothing.
import { createHash } from "node:crypto";
import { WEB_UNIT, WEB_USER } from "./systemd";
import { DEFAULT_SOURCE, header, lines, oneLine } from "./text";

/** Services the push script knows how to validate and restart or reload. */
export type ServerService = "mosquitto" | "nginx" | "postfix" | "fail2ban" | "diy-web";

export interface PushFile {
  path: string;
  content: string;
  /** Octal, e.g. "0640". */
  mode: string;
  owner: string;
  group: string;
  /** Private key, password or token: never print, never put in argv or plain outputs. */
  secret?: boolean;
  /** Services restarted (or reloaded) when this file's content changes. */
  services?: readonly ServerService[];
  /** Run `postmap` on it after writing (postfix lookup tables). */
  postmap?: boolean;
  /** A systemd unit or drop-in: `systemctl daemon-reload` after it changes. */
  systemd?: boolean;
  /**
   * Not in the script: the file was copied beforehand to this path relative to the SSH user's home
   * (remote.CopyToRemote, which keeps a path and a hash in the state instead of the content). For large,
   * non-secret files (the web app bundle); the script installs it only if its SHA-256 matches `content`'s.
   */
  staged?: string;
}

/** The push's command line: the script on stdin; the SSH user's home (where staged files are) as $1. */
export const PUSH_COMMAND = 'sudo bash -s -- "$HOME"';

export interface PushLink {
  link: string;
  target: string;
  services?: readonly ServerService[];
}

export interface PushRemoval {
  path: string;
  services?: readonly ServerService[];
}

export interface PushScriptInput {
  source?: string;
  files: readonly PushFile[];
  links?: readonly PushLink[];
  remove?: readonly PushRemoval[];
  /** Services enabled at boot and started if not running. */
  enable?: readonly ServerService[];
  /** Commands that must exist before anything is written, each with what to do when it does not. */
  requires?: readonly { command: string; otherwise: string }[];
  /** System users created when missing (the web app's). */
  systemUsers?: readonly string[];
  /** Give up waiting for cloud-init after this long. */
  cloudInitTimeoutSeconds?: number;
  /**
   * Commands run last, once every service is up (switching timers on/off, a first Let's Encrypt
   * issuance). Rendered by infra/render/ops.ts; no secrets. A failing one is logged, not fatal.
   */
  after?: readonly string[];
}

/** How each service takes a changed file. */
const ACTIONS: Record<ServerService, { unit: string; verb: "restart" | "reload-or-restart" }> = {
  // restart, not SIGHUP: 2.0.11 rereads the CRL on SIGHUP for new connections only; a connected revoked
  // device stays connected until a restart (test/integration/ops-revocation.test.ts)
  mosquitto: { unit: "mosquitto.service", verb: "restart" },
  nginx: { unit: "nginx.service", verb: "reload-or-restart" },
  // restart: a reload keeps the listening sockets, so a changed inet_interfaces (loopback-only) would not
  // apply until the next stop/start (seen in the VM tier: still on 0.0.0.0:25 after the push). Debian's
  // postfix.service is a wrapper; postfix@-.service is PartOf it and restarts with it.
  postfix: { unit: "postfix.service", verb: "restart" },
  fail2ban: { unit: "fail2ban.service", verb: "reload-or-restart" },
  "diy-web": { unit: WEB_UNIT, verb: "restart" },
};
const ORDER: readonly ServerService[] = ["mosquitto", "postfix", "fail2ban", "diy-web", "nginx"];

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** A content hash of everything pushed: the remote command's trigger. */
export function pushHash(files: readonly PushFile[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(`${f.path}\0${f.mode}\0${f.owner}\0${f.group}\0${sha256(f.content)}\n`);
  }
  return h.digest("hex");
}

function base64Lines(text: string): string[] {
  const b64 = Buffer.from(text, "utf8").toString("base64");
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
  return out;
}

/**
 * Written into bash: only characters bash gives no meaning to, plus systemd's \xNN escapes (a unit named after a
 * path, e.g. var-lib-diy\x2dweb.mount), which go in single quotes.
 */
function shellPath(what: string, p: string): string {
  if (!/^\/([A-Za-z0-9._/@+-]|\\x[0-9a-f]{2})+$/.test(p) || p.includes("..")) {
    throw new Error(
      `${what} must be an absolute path of letters, digits, ._/@+- and systemd's \\xNN escapes only, got ${JSON.stringify(p)}`,
    );
  }
  return p.includes("\\") ? `'${p}'` : p;
}

function stagedPath(p: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(p) || p.split("/").includes(".."))
    throw new Error(`staged path ${JSON.stringify(p)} must be a plain path relative to the SSH user's home`);
  return p;
}

function account(what: string, name: string): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name))
    throw new Error(`${what} must be a user or group name, got ${JSON.stringify(name)}`);
  return name;
}

function mode(m: string): string {
  if (!/^0[0-7]{3}$/.test(m)) throw new Error(`file mode must be octal like 0640, got ${JSON.stringify(m)}`);
  return m;
}

function marks(services: readonly ServerService[] | undefined): string {
  return (services ?? []).map((s) => `changed[${s}]=1`).join("; ");
}

const PRELUDE = `set -euo pipefail
umask 077
export LC_ALL=C

# Tests run the same script against a scratch tree; on a server this is empty.
root="\${DIY_PUSH_ROOT:-}"
# The SSH user's home, where the staged files were copied (PUSH_COMMAND passes it; sudo may reset HOME).
staged_home="\${1:-}"
declare -A changed=()
systemd_changed=0
did_change=0
tmp_file=""
trap 'if [[ -n "$tmp_file" ]]; then rm -f -- "$tmp_file"; fi' EXIT

log() { printf 'diy-push: %s\\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

wait_for_cloud_init() {
  local timeout=$1 waited=0
  if [[ ! -d "$root/var/lib/cloud" ]]; then
    log "no cloud-init on this host; not waiting"
    return 0
  fi
  until [[ -f "$root/var/lib/cloud/instance/boot-finished" ]]; do
    if (( waited >= timeout )); then
      die "cloud-init has not finished after \${timeout}s (see /var/log/cloud-init-output.log)"
    fi
    if (( waited % 30 == 0 )); then log "waiting for cloud-init to finish (\${waited}s)"; fi
    sleep 5
    waited=$(( waited + 5 ))
  done
  cloud-init status --long >&2 || log "cloud-init reports a problem; continuing, the checks below decide"
}

ensure_system_user() {
  local name=$1
  if ! getent passwd "$name" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$name"
    log "created system user $name"
  fi
}

sum_of() {
  local out
  out=$(sha256sum <"$1")
  printf '%s' "\${out%% *}"
}

# own PATH MODE OWNER GROUP: sets the mode and owner of a file we put.
own() {
  chown "$3:$4" "$1"
  chmod "$2" "$1"
}

# settle NAME PATH MODE OWNER GROUP: moves the checked $tmp_file over PATH (atomically: the same
# directory) with its mode and owner; did_change=1.
settle() {
  own "$tmp_file" "$3" "$4" "$5"
  mv -f -- "$tmp_file" "$2"
  tmp_file=""
  did_change=1
  log "updated $1"
}

# put PATH MODE OWNER GROUP SHA256 < base64: writes the decoded content atomically unless PATH already
# holds it; mode and owner are corrected either way. Sets did_change=1 when the content changed.
# (A status code would put the function in an if-condition, where set -e stops guarding it.)
put() {
  local path="$root$1" mode=$2 owner=$3 group=$4 sum=$5
  did_change=0
  if [[ -f "$path" && "$(sum_of "$path")" == "$sum" ]]; then
    own "$path" "$mode" "$owner" "$group"
    return 0
  fi
  install -d -m 0755 "$(dirname "$path")"
  tmp_file=$(mktemp "$path.diy-XXXXXX")
  base64 -d >"$tmp_file"
  [[ "$(sum_of "$tmp_file")" == "$sum" ]] || die "content of $1 arrived damaged (checksum mismatch)"
  settle "$1" "$path" "$mode" "$owner" "$group"
}

# put_staged PATH MODE OWNER GROUP SHA256 STAGED: like put, from the file copied to $staged_home/STAGED before
# the push; anything but the file this stack built is refused.
put_staged() {
  local path="$root$1" mode=$2 owner=$3 group=$4 sum=$5 src="$staged_home/$6"
  did_change=0
  if [[ -f "$path" && "$(sum_of "$path")" == "$sum" ]]; then
    own "$path" "$mode" "$owner" "$group"
    return 0
  fi
  [[ -n "$staged_home" ]] || die "$1 is copied beside the push: give the SSH user's home as the first argument (sudo bash -s -- ~ < push.sh)"
  [[ -f "$src" ]] || die "$src is missing: pulumi up copies it there before the push (the server's -files resource)"
  install -d -m 0755 "$(dirname "$path")"
  tmp_file=$(mktemp "$path.diy-XXXXXX")
  cat -- "$src" >"$tmp_file"
  [[ "$(sum_of "$tmp_file")" == "$sum" ]] || die "$src is not the file this stack built for $1 (checksum mismatch)"
  settle "$1" "$path" "$mode" "$owner" "$group"
}

# link LINK TARGET: a symlink to TARGET; did_change=1 when it was created or changed.
link() {
  local path="$root$1" target=$2
  did_change=0
  if [[ -L "$path" && "$(readlink "$path")" == "$target" ]]; then return 0; fi
  install -d -m 0755 "$(dirname "$path")"
  ln -sfn -- "$target" "$path"
  did_change=1
  log "linked $1 -> $target"
}

# remove PATH: did_change=1 when something was removed.
remove() {
  local path="$root$1"
  did_change=0
  if [[ -e "$path" || -L "$path" ]]; then
    rm -f -- "$path"
    did_change=1
    log "removed $1"
  fi
}

require_command() {
  command -v "$1" >/dev/null || die "$1 is not installed (did cloud-init install the packages?)"
}`;

export function renderPushScript(input: PushScriptInput): string {
  const timeout = input.cloudInitTimeoutSeconds ?? 1800;
  if (!Number.isInteger(timeout) || timeout < 0)
    throw new Error(`cloudInitTimeoutSeconds must be a whole number, got ${timeout}`);
  const used = new Set<ServerService>();
  const body: string[] = [`  wait_for_cloud_init ${timeout}`];
  for (const cmd of ["sha256sum", "base64", "systemctl"]) body.push(`  require_command ${cmd}`);
  for (const r of input.requires ?? []) {
    if (r.otherwise.includes("'"))
      throw new Error(`requires: the message must not contain a single quote: ${r.otherwise}`);
    body.push(
      `  command -v ${account("required command", r.command)} >/dev/null || die '${oneLine("requires", r.otherwise)}'`,
    );
  }
  for (const user of input.systemUsers ?? [WEB_USER]) body.push(`  ensure_system_user ${account("systemUsers", user)}`);
  body.push("");
  input.files.forEach((f, i) => {
    const delim = `DIY_FILE_${i}`;
    const path = shellPath("file path", f.path);
    if (f.postmap && path.startsWith("'")) throw new Error(`${f.path}: a postmap table needs a plain path`);
    const then = [
      marks(f.services),
      f.systemd ? "systemd_changed=1" : "",
      f.postmap ? `postmap "hash:$root${path}"` : "",
    ]
      .filter((s) => s !== "")
      .join("; ");
    for (const s of f.services ?? []) used.add(s);
    const args = `${path} ${mode(f.mode)} ${account("owner", f.owner)} ${account("group", f.group)} ${sha256(f.content)}`;
    if (f.staged !== undefined) {
      if (f.secret) throw new Error(`${f.path}: a secret file travels on stdin, never as a staged copy`);
      body.push(`  put_staged ${args} ${stagedPath(f.staged)}`);
    } else {
      body.push(`  put ${args} <<'${delim}'`, ...base64Lines(f.content), delim);
    }
    if (then !== "") body.push(`  if (( did_change )); then ${then}; fi`);
    // postmap's .db holds the same credentials: same mode as its source.
    if (f.postmap) {
      body.push(
        `  if [[ ! -f "$root${path}.db" ]]; then postmap "hash:$root${path}"; ${marks(f.services) || ":"}; fi`,
        `  chmod ${f.mode} "$root${path}.db"`,
      );
    }
  });
  for (const l of input.links ?? []) {
    for (const s of l.services ?? []) used.add(s);
    body.push(`  link ${shellPath("link", l.link)} ${shellPath("link target", l.target)}`);
    if (l.services?.length) body.push(`  if (( did_change )); then ${marks(l.services)}; fi`);
  }
  for (const r of input.remove ?? []) {
    for (const s of r.services ?? []) used.add(s);
    body.push(`  remove ${shellPath("remove", r.path)}`);
    if (r.services?.length) body.push(`  if (( did_change )); then ${marks(r.services)}; fi`);
  }
  body.push("", "  if (( systemd_changed )); then systemctl daemon-reload; fi");
  if (used.has("nginx")) {
    body.push("  require_command nginx", '  nginx -t -q || die "nginx rejects the configuration (nginx -t above)"');
  }
  if (used.has("postfix")) {
    body.push(
      "  require_command postfix",
      '  postfix check || die "postfix rejects the configuration (postfix check above)"',
    );
  }
  const enable = input.enable ?? [];
  for (const s of enable) body.push(`  systemctl enable --quiet ${ACTIONS[s].unit}`);
  for (const s of ORDER) {
    const a = ACTIONS[s];
    if (used.has(s))
      body.push(
        `  if [[ -n "\${changed[${s}]:-}" ]]; then log "${a.verb} ${a.unit}"; systemctl ${a.verb} ${a.unit}; fi`,
      );
  }
  for (const s of enable)
    body.push(`  systemctl is-active --quiet ${ACTIONS[s].unit} || systemctl start ${ACTIONS[s].unit}`);
  const check = ORDER.filter((s) => used.has(s) || enable.includes(s));
  for (const s of check) {
    const u = ACTIONS[s].unit;
    // Debian's postfix.service is a oneshot wrapper that stays "active"; ask postfix itself.
    const running = s === "postfix" ? "postfix status >/dev/null 2>&1" : `systemctl is-active --quiet ${u}`;
    body.push(`  ${running} || { journalctl -u ${u} -n 40 --no-pager >&2 || true; die "${u} is not running"; }`);
  }
  for (const cmd of input.after ?? []) {
    if (cmd.includes("'")) throw new Error(`after command must not contain a single quote: ${cmd}`);
    body.push(`  if ! ( ${oneLine("after command", cmd)} ); then log 'step failed (continuing): ${cmd}'; fi`);
  }
  body.push('  log "done"');
  return lines([
    "#!/usr/bin/env bash",
    ...header("#", "infra/render/push-script.ts", input.source ?? DEFAULT_SOURCE),
    `# Run as root with the script on stdin: ssh admin@host '${PUSH_COMMAND}' < push.sh`,
    "# (it carries private keys: never pass it as an argument or write it where others can read it).",
    PRELUDE,
    "",
    "# Everything runs inside main, read completely before it starts: a cut-off transfer runs nothing,",
    "# and no command can swallow the rest of the script from stdin.",
    "main() {",
    ...body,
    "}",
    "",
    "main </dev/null",
  ]);
}
