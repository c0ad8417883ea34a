// `bootstation serve` exits promptly on SIGTERM while it ingests: during a download that stalls half-way, a checksums
// list or a release index that stalls, and the extraction of an entry of gigabytes. Each time the process is gone
// within 3 s (a download's timeouts are 15 to 60 s, the extraction about 10 s), exits 0, leaves no staging folder,
// lock or failure record, and installs nothing; after the stalled download the next start resumes it and installs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { bigTarGzMembers } from '../support/big-archives.ts';
import { freeTcpPort, freeUdpPort, startCli, waitFor, type BackgroundCli } from '../support/cli.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { buildTar } from '../support/ingest-archives.ts';

// A shutdown is a behaviour with a time: well below every download timeout, and below docker stop's 10 s.
const EXITS_WITHIN_MS = 3000;
const GiB = 1024 ** 3;

const root = await mkdtemp(join(tmpdir(), 'bootstation-serve-shutdown-'));
after(() => rm(root, { recursive: true, force: true }));

const kernel = 'kernel '.repeat(20_000);
const tar = await buildTar([
  { name: 'boot/vmlinuz', content: kernel },
  { name: 'boot/initrd.img', content: 'initrd' },
]);
const half = Math.floor(tar.length / 2);
const big = Buffer.concat(bigTarGzMembers([{ name: 'boot/vmlinuz', content: 'kernel' }, { name: 'boot/initrd.img', zeros: 4 * GiB }]));
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

// Responses left hanging, ended when the file's tests are done.
const hanging = new Set<ServerResponse>();
const fixture = await startHttpFixture((request, response, previous) => {
  const path = new URL(request.url ?? '/', 'http://fixture').pathname;
  hanging.add(response);
  response.on('close', () => hanging.delete(response));
  if (path === '/demo.tar' && previous === 0) {
    // The headers promise the whole archive; half of it comes, then nothing.
    response.writeHead(200, { 'content-length': String(tar.length) });
    response.write(tar.subarray(0, half));
  } else if (path === '/demo.tar') {
    sendBody(request, response, tar, { ranges: true });
  } else if (path === '/big.tar.gz') {
    sendBody(request, response, big);
  } else if (path === '/stall/SHA256SUMS' || path.startsWith('/alpine/')) {
    // An index: headers and a first line, then nothing.
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.write('# the rest never comes\n');
  } else {
    response.writeHead(404, { 'content-length': '0' }).end();
  }
});
after(async () => {
  for (const response of hanging) response.destroy();
  await fixture.close();
});

const imageYaml = (source: string): string => `images:\n  - id: demo\n    label: Demo\n    source: ${source}\n    boot: {kernel: boot/vmlinuz, initrd: [boot/initrd.img]}\n`;

// Every serve started, so that a failed test leaves no process behind.
const started: BackgroundCli[] = [];
after(async () => {
  for (const server of started) {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await server.exited;
  }
});

interface Served {
  server: BackgroundCli;
  http: number;
  dataDir: string;
}

/** Starts `bootstation serve` on loopback ports in `dir` (kept between starts) with `yaml`, and waits until it serves. */
async function serve(dir: string, yaml: string): Promise<Served> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'images.yaml'), yaml);
  const http = await freeTcpPort();
  const dataDir = join(dir, 'data');
  const server = startCli([
    'serve', '--config', join(dir, 'images.yaml'), '--data', dataDir, '--address', '127.0.0.1', '--no-proxy-dhcp',
    '--http-port', String(http), '--tftp-port', String(await freeUdpPort()),
  ]);
  started.push(server);
  await server.waitForOutput(/bootstation serving/);
  return { server, http, dataDir };
}

/** What the runner says it is doing with image demo, from GET /api/images. */
async function runnerState(served: Served): Promise<{ phase: string; done?: number; total?: number } | undefined> {
  const response = await fetch(`http://127.0.0.1:${served.http}/api/images`, { headers: { connection: 'close' } });
  return ((await response.json()) as { ingestStates: Record<string, { phase: string; done?: number; total?: number }> }).ingestStates['demo'];
}

/** Sends SIGTERM and measures until the process has exited (the time goes into the test's report). */
async function stop(served: Served, t?: TestContext): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  served.server.child.kill('SIGTERM');
  const code = await served.server.exited;
  const ms = Date.now() - started;
  t?.diagnostic(`serve exited ${ms} ms after SIGTERM`);
  return { code, ms };
}

/** The checks every shutdown during an ingest must pass. */
async function assertStoppedCleanly(served: Served, stopped: { code: number | null; ms: number }): Promise<void> {
  const output = served.server.output();
  assert.equal(stopped.code, 0, output);
  assert.ok(stopped.ms < EXITS_WITHIN_MS, `serve took ${stopped.ms} ms to exit after SIGTERM:\n${output}`);
  assert.match(output, /ingest stopped: the server is shutting down/);
  assert.doesNotMatch(output, /ingest failed/);
  const images = join(served.dataDir, 'images');
  const left = (await readdir(images).catch(() => [] as string[])).filter((name) => name !== '.versions');
  assert.deepEqual(left, [], 'no link, no failure record, no lock');
  assert.deepEqual(await readdir(join(images, '.versions')).catch(() => []), [], 'no staging folder');
}

describe('serve exits promptly on SIGTERM during an ingest', () => {
  test('a download stalled half-way: the next start resumes it and installs', { timeout: 60_000 }, async (t) => {
    const dir = join(root, 'download');
    const yaml = imageYaml(`{url: "${fixture.url('/demo.tar')}", sha256: ${sha256(tar)}}`);
    const first = await serve(dir, yaml);
    await waitFor('the download to stall half-way', async () => {
      const state = await runnerState(first);
      return state?.phase === 'running' && state.done === half;
    });
    await assertStoppedCleanly(first, await stop(first, t));

    const second = await serve(dir, yaml);
    try {
      await second.server.waitForOutput(/ingest ended: installed/);
      assert.match(second.server.output(), new RegExp(`resuming \\S+ at byte ${half}`));
      assert.equal(await (await fetch(`http://127.0.0.1:${second.http}/images/demo/boot/vmlinuz`, { headers: { connection: 'close' } })).text(), kernel);
    } finally {
      assert.equal((await stop(second)).code, 0);
    }
  });

  const stalls: Array<[string, string, string]> = [
    ['a checksums list that stalls', imageYaml(`{url: "${fixture.url('/demo.tar')}", checksums: "${fixture.url('/stall/SHA256SUMS')}"}`), '/stall/SHA256SUMS'],
    ['a release index that stalls', `mirrors: {alpine: "${fixture.url('/alpine/')}"}\nimages:\n  - {id: demo, recipe: alpine, version: latest}\n`, '/alpine/latest-stable/releases/x86_64/latest-releases.yaml'],
  ];
  for (const [what, yaml, path] of stalls) {
    test(what, { timeout: 60_000 }, async (t) => {
      const served = await serve(join(root, path.split('/')[1]!), yaml);
      await waitFor(`the request for ${path}`, async () => fixture.requests.some((request) => request.path === path));
      await assertStoppedCleanly(served, await stop(served, t));
    });
  }

  test('the extraction of a 4 GiB entry', { timeout: 60_000 }, async (t) => {
    const served = await serve(join(root, 'extraction'), imageYaml(`{url: "${fixture.url('/big.tar.gz')}", sha256: ${sha256(big)}}`));
    await waitFor('the extraction of the 4 GiB entry', async () => {
      const state = await runnerState(served);
      return state?.total === 4 * GiB && (state.done ?? 0) > 0;
    });
    await assertStoppedCleanly(served, await stop(served, t));
  });
});
