// A local HTTP endpoint that answers the AWS SDK as AWS IoT's data plane answers the retained-message API, so
// the web app's iot-core profile runs its real SDK calls here. What it holds, from the AWS IoT API Reference:
// - ListRetainedMessages (API_iotdata_ListRetainedMessages): GET /retainedMessage?maxResults=&nextToken=;
//   maxResults 1-200, else InvalidRequestException (400); 200 with { retainedTopics: [{ lastModifiedTime,
//   payloadSize, qos, topic }], nextToken } (nextToken absent on the last page).
// - GetRetainedMessage (API_iotdata_GetRetainedMessage): GET /retainedMessage/{topic} (the topic URL-encoded
//   as one path segment); 200 with { lastModifiedTime, payload (base64), qos, topic, userProperties };
//   ResourceNotFoundException (404) when nothing is retained on the topic.
// - Errors are restJson1: the error type in the x-amzn-ErrorType header, { message } in the body.
// - Every request is signed with Signature Version 4 for the service's signing name `iotdata` (the service
//   model's sigv4 trait, which @aws-sdk/client-iot-data-plane carries): an unsigned request is refused (403).
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface RetainedEntry {
  payload: Buffer;
  qos: 0 | 1;
  lastModifiedTime: number;
}

export interface IotDataDouble {
  url: string;
  /** The account's retained messages, by topic: tests add and remove them as devices would. */
  retained: Map<string, RetainedEntry>;
  /** Topics asked for with GetRetainedMessage, in order. */
  gets: string[];
  /** ListRetainedMessages calls served. */
  lists: number;
  /** Called before a GetRetainedMessage answers (a test can change the world in between). */
  beforeGet?: (topic: string) => void | Promise<void>;
  close(): Promise<void>;
}

const SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=[A-Z0-9]+\/\d{8}\/[a-z0-9-]+\/iotdata\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/;

export async function startIotDataDouble(): Promise<IotDataDouble> {
  const double: IotDataDouble = {
    url: "",
    retained: new Map(),
    gets: [],
    lists: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const send = (res: import("node:http").ServerResponse, status: number, body: object, errorType?: string) => {
    res.writeHead(status, {
      "content-type": "application/json",
      ...(errorType ? { "x-amzn-errortype": errorType } : {}),
    });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!SIGV4.test(req.headers.authorization ?? ""))
      return send(res, 403, { message: "Missing Authentication Token" }, "ForbiddenException");
    if (req.method !== "GET") return send(res, 405, { message: "method not allowed" }, "MethodNotAllowedException");
    if (url.pathname === "/retainedMessage") {
      double.lists++;
      const max = Number(url.searchParams.get("maxResults") ?? "50");
      if (!Number.isInteger(max) || max < 1 || max > 200)
        return send(res, 400, { message: "maxResults must be 1-200" }, "InvalidRequestException");
      const topics = [...double.retained.keys()].sort();
      const start = Number(url.searchParams.get("nextToken") ?? "0");
      const page = topics.slice(start, start + max);
      const next = start + max < topics.length ? String(start + max) : undefined;
      return send(res, 200, {
        retainedTopics: page.map((topic) => {
          const e = double.retained.get(topic) as RetainedEntry;
          return { topic, payloadSize: e.payload.length, qos: e.qos, lastModifiedTime: e.lastModifiedTime };
        }),
        ...(next ? { nextToken: next } : {}),
      });
    }
    const m = /^\/retainedMessage\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const topic = decodeURIComponent(m[1] as string);
      double.gets.push(topic);
      await double.beforeGet?.(topic);
      const e = double.retained.get(topic);
      if (!e) return send(res, 404, { message: `No retained message for ${topic}` }, "ResourceNotFoundException");
      return send(res, 200, {
        topic,
        payload: e.payload.toString("base64"),
        qos: e.qos,
        lastModifiedTime: e.lastModifiedTime,
      });
    }
    return send(res, 404, { message: "no such route" }, "UnknownOperationException");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  double.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return double;
}
