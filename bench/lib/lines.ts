/** Calls `each` with every `separator`-terminated piece of a text stream and the time (performance.now) its chunk arrived. */
export function eachPiece(
  stream: NodeJS.ReadableStream,
  separator: string,
  each: (piece: string, at: number) => void,
): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const at = performance.now();
    buf += chunk;
    for (let i = buf.indexOf(separator); i >= 0; i = buf.indexOf(separator)) {
      const piece = buf.slice(0, i);
      buf = buf.slice(i + separator.length);
      each(piece, at);
    }
  });
}
