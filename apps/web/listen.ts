// Where the HTTP server listens. Behind nginx the app takes a unix socket that only nginx's group can open
// (socket(7): connecting needs write permission on the socket file), so no other local process can reach it
// and hand it a forged X-Forwarded-For; reached directly (the demo) it listens on TCP.
import { chmodSync, chownSync, lstatSync, readFileSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { ListenConfig } from "./config";

/** The gid of `name` in a group(5) file; throws when there is none. */
export function groupId(name: string, groupFile = "/etc/group"): number {
  for (const line of readFileSync(groupFile, "utf8").split("\n")) {
    const [n, , gid] = line.split(":");
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`listen.group: no group "${name}" in ${groupFile} (nginx's workers run as www-data on Debian)`);
}

/** server.listen(...args), resolved once listening. `umask`: the mask bind() creates a socket file under. */
function listening(server: Server, args: [string] | [number, string], umask?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    // bind() runs inside listen(), synchronously: the mask is back before anything else creates a file.
    const previous = umask === undefined ? undefined : process.umask(umask);
    try {
      if (args.length === 1) server.listen(args[0], done);
      else server.listen(args[0], args[1], done);
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}

/**
 * Listens as configured and returns the URL (http://host:port) or socket path it answers on. A socket is
 * created under umask 0177 (owner only, so nobody else can connect before its group is set), then given
 * to the group with mode 0660. A socket left by a crash is removed first; any other file there is an error.
 */
export async function listenOn(server: Server, listen: ListenConfig): Promise<{ url: string; port: number }> {
  if ("host" in listen) {
    await listening(server, [listen.port, listen.host]);
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : listen.port;
    const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
    return { url: `http://${host}:${port}`, port };
  }
  const gid = groupId(listen.group);
  try {
    if (!lstatSync(listen.socket).isSocket())
      throw new Error(`listen.socket: ${listen.socket} exists and is not a socket; remove it or choose another path`);
    rmSync(listen.socket);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await listening(server, [listen.socket], 0o177);
  try {
    chownSync(listen.socket, -1, gid);
  } catch (e) {
    server.close();
    throw new Error(
      `listen.group: cannot give ${listen.socket} to group ${listen.group} (${(e as Error).message}); ` +
        `the service needs it as a supplementary group (diy-web.service: SupplementaryGroups=${listen.group})`,
    );
  }
  chmodSync(listen.socket, 0o660);
  return { url: `unix:${listen.socket}`, port: 0 };
}
