import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fixture server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  range: string | undefined;
}

/** What a test's handler gets: the request, the response, and how many requests came before this one for the same path. */
export type FixtureHandler = (request: IncomingMessage, response: ServerResponse, previous: number) => void;

/** A node:http server on 127.0.0.1, port 0, recording every request; handlers decide each answer. */
export async function startHttpFixture(handler: FixtureHandler): Promise<{ url: (path: string) => string; requests: SeenRequest[]; close: () => Promise<void> }> {
  const requests: SeenRequest[] = [];
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://fixture').pathname;
    const previous = requests.filter((r) => r.path === path).length;
    requests.push({ method: request.method ?? 'GET', path, range: request.headers.range });
    handler(request, response, previous);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers with `body`, honouring a single `Range: bytes=N-` / `bytes=N-M` when `ranges` is set (206 with
 * Content-Range), else always the whole body with 200. `cutAfter` sends the headers for the whole answer,
 * then that many body bytes, then destroys the connection.
 */
export function sendBody(request: IncomingMessage, response: ServerResponse, body: Uint8Array, options: { ranges?: boolean; cutAfter?: number } = {}): void {
  let first = 0;
  let last = body.length - 1;
  let status = 200;
  const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
  if (options.ranges && range) {
    first = Number(range[1]);
    last = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    if (first >= body.length) {
      response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    status = 206;
  }
  const slice = body.subarray(first, last + 1);
  response.writeHead(status, {
    'content-length': String(slice.length),
    'content-type': 'application/octet-stream',
    ...(options.ranges ? { 'accept-ranges': 'bytes' } : {}),
    ...(status === 206 ? { 'content-range': `bytes ${first}-${last}/${body.length}` } : {}),
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  if (options.cutAfter !== undefined) {
    response.write(slice.subarray(0, options.cutAfter), () => setTimeout(() => response.destroy(), 20));
    return;
  }
  response.end(slice);
}
