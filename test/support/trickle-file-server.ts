// A static file server that sends at a fixed rate, for lab tests that watch a download's progress: run as
// `node test/support/trickle-file-server.ts <folder> <address> <port> <bytes per second>` inside a lab host.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const [folder, address, port, rate] = process.argv.slice(2);
if (!folder || !address || !port || !rate) throw new Error('usage: trickle-file-server.ts <folder> <address> <port> <bytes per second>');
// Ten slices a second: smooth enough for a progress bar, few enough timers.
const slice = Math.max(1, Math.floor(Number(rate) / 10));

const server = createServer(async (request, response) => {
  const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
  const file = join(folder, path);
  const info = await stat(file).catch(() => undefined);
  console.log(`${request.method} ${path} ${info?.isFile() ? info.size : 404}`);
  if (path.includes('..') || !info?.isFile()) return void response.writeHead(404).end();
  response.writeHead(200, { 'content-length': String(info.size), 'content-type': 'application/octet-stream' });
  if (request.method === 'HEAD') return void response.end();
  for await (const chunk of createReadStream(file, { highWaterMark: slice })) {
    if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve));
    if (response.destroyed) return;
    await sleep(100);
  }
  response.end();
});
server.listen(Number(port), address, () => console.log(`serving ${folder} on ${address}:${port} at ${rate} B/s`));
