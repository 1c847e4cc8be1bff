import { type FSWatcher, constants, existsSync, openSync, statSync, watch } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { Socket } from "node:net";
import { basename, dirname } from "node:path";
import { writeFileAtomic } from "./fsutil";
import type { BackendEnv, InputEvent, InputLine, OutputLine } from "./types";

// The simulated backend stands in for a board in the demo and the tests: an output is a file
// holding "on" or "off"; an input is a file (its content is the current state) or a FIFO (each
// line is one event). Both formats are plain words so `cat` and `echo pressed >` work by hand.

export function simulatedOutputFile(env: BackendEnv, name: string, file?: string): string {
  return file ?? `${env.stateDir}/${name}.state`;
}

export function simulatedInputFile(env: BackendEnv, name: string, file?: string): string {
  return file ?? `${env.stateDir}/${name}.input`;
}

export async function openSimulatedOutput(file: string): Promise<OutputLine> {
  await mkdir(dirname(file), { recursive: true });
  return {
    description: `simulated:${file}`,
    write: async (on) => writeFileAtomic(file, on ? "on\n" : "off\n"),
    close: async () => {},
  };
}

function toEvent(word: string): InputEvent | undefined {
  return word === "pressed" || word === "released" ? word : undefined;
}

export async function openSimulatedInput(file: string, env: BackendEnv): Promise<InputLine> {
  await mkdir(dirname(file), { recursive: true });
  if (!existsSync(file)) await writeFile(file, "released\n");
  const isFifo = statSync(file).isFIFO();
  let watcher: FSWatcher | undefined;
  let socket: Socket | undefined;
  // The service starts inputs without waiting and may stop while a start is still reading the file:
  // a start that resumes after close must not open a watcher nobody will close (it held the process open).
  let closed = false;

  const readFifo = (onEvent: (e: InputEvent) => void) => {
    if (closed) return;
    // O_RDWR keeps a writer open ourselves, so the FIFO never reaches EOF between writers and the
    // open does not block; a net.Socket reads it on the event loop instead of a threadpool thread.
    const fd = openSync(file, constants.O_RDWR | constants.O_NONBLOCK);
    socket = new Socket({ fd, readable: true, writable: false });
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const event = toEvent(line.trim());
        if (event) onEvent(event);
        else if (line.trim()) env.log.warn("simulated input: ignoring line", { file, line: line.slice(0, 64) });
      }
    });
    socket.on("error", (err) => env.log.error("simulated input FIFO failed", { file, err }));
  };

  const watchFile = async (onEvent: (e: InputEvent) => void) => {
    let last = toEvent((await readFile(file, "utf8")).trim());
    if (closed) return;
    const check = async () => {
      let word: string;
      try {
        word = (await readFile(file, "utf8")).trim();
      } catch {
        return; // between unlink and rename
      }
      const event = toEvent(word);
      if (!event) {
        if (word) env.log.warn("simulated input: ignoring content", { file, content: word.slice(0, 64) });
        return;
      }
      if (event !== last) {
        last = event;
        onEvent(event);
      }
    };
    // Watch the directory, not the file: an atomic rename replaces the inode a file watch holds.
    // Reads are chained so two quick writes are seen in order.
    let chain = Promise.resolve();
    watcher = watch(dirname(file), (_type, name) => {
      if (name === basename(file)) chain = chain.then(check);
    });
  };

  return {
    description: `simulated:${file}`,
    start: async (onEvent) => (isFifo ? readFifo(onEvent) : watchFile(onEvent)),
    close: async () => {
      closed = true;
      watcher?.close();
      socket?.destroy();
    },
  };
}
