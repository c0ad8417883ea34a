// serve ingests by itself: the appliance core on 127.0.0.1 with a fake clock for its timers (retries, the release
// check), real ingests from a node:http fixture server, and what the menu, the files, the API and the disk show.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Appliance } from '../../src/appliance/server.ts';
import { runCli } from '../support/cli.ts';
import { getMenu, getText, ingestEvents, startWithFakeClock, type FakeClockAppliance } from '../support/fake-clock-appliance.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { buildTar } from '../support/ingest-archives.ts';

const TOKEN = 'auto-ingest-token-0123456789';
const root = await mkdtemp(join(tmpdir(), 'bootstation-auto-ingest-'));
after(() => rm(root, { recursive: true, force: true }));

/** One release of the test image: a tar with a kernel and an initrd whose text names the release. */
async function release(name: string): Promise<{ tar: Buffer; sha256: string }> {
  const tar = await buildTar([
    { name: 'boot/vmlinuz', content: `kernel ${name}` },
    { name: 'boot/initrd.img', content: `initrd ${name}` },
  ]);
  return { tar, sha256: createHash('sha256').update(tar).digest('hex') };
}

// The fixture's files, changed by the tests: path → body, or a status to answer with.
const files = new Map<string, Buffer | number>();
let inFlight = 0;
let mostInFlight = 0;
const fixture = await startHttpFixture((request, response) => {
  const path = new URL(request.url ?? '/', 'http://fixture').pathname;
  const body = files.get(path);
  if (typeof body === 'number') {
    // Retry-After: 0 lets the download's own retries run out at once; the runner's wait is on the fake clock.
    response.writeHead(body, { 'retry-after': '0', 'content-length': '0' }).end();
    return;
  }
  if (body === undefined) {
    response.writeHead(404, { 'content-length': '0' }).end();
    return;
  }
  inFlight++;
  mostInFlight = Math.max(mostInFlight, inFlight);
  response.on('close', () => inFlight--);
  // A moment on the wire, so two downloads at once would overlap.
  setTimeout(() => sendBody(request, response, body), 30);
});
after(() => fixture.close());

const imageYaml = (id: string, source: string, extra = ''): string =>
  `  - id: ${id}\n    label: Image ${id}\n    source: ${source}\n    boot: {kernel: boot/vmlinuz, initrd: [boot/initrd.img]}\n${extra}`;
const sha256Source = (path: string, sha256: string): string => `{url: "${fixture.url(path)}", sha256: ${sha256}}`;

const start = (name: string, yaml: string): Promise<FakeClockAppliance> => startWithFakeClock(join(root, name), yaml);

describe('serve ingests by itself', () => {
  test('on start: the images not ready, one at a time; ingest: manual (per image or global) is left alone; a reload queues only the changed source', { timeout: 60_000 }, async () => {
    const one = await release('one');
    const two = await release('two');
    files.set('/start/a.tar', one.tar);
    files.set('/start/b.tar', one.tar);
    files.set('/start/c.tar', two.tar);
    mostInFlight = 0;
    const yaml = (aSha: string, aPath = '/start/a.tar'): string =>
      `images:\n${imageYaml('a', sha256Source(aPath, aSha))}${imageYaml('b', sha256Source('/start/b.tar', one.sha256), '    ingest: manual\n')}${imageYaml('c', sha256Source('/start/c.tar', two.sha256))}`;
    const { appliance } = await start('start', yaml(one.sha256));
    try {
      await appliance.ingestIdle();
      assert.deepEqual(await ingestEvents(appliance), [
        { image: 'a', phase: 'running' },
        { image: 'a', phase: 'installed' },
        { image: 'c', phase: 'running' },
        { image: 'c', phase: 'installed' },
      ], 'a and c in turn, never b');
      assert.equal(mostInFlight, 1, 'one download at a time');
      assert.equal(await getText(appliance, '/images/c/boot/vmlinuz'), 'kernel two');
      assert.match(await getMenu(appliance), /^item --gap -- Image b \(not ready: missing boot\/vmlinuz, boot\/initrd\.img\)$/m);
      assert.ok(!fixture.requests.some((request) => request.path === '/start/b.tar'), 'the manual image was not fetched');

      const requestsBefore = fixture.requests.length;
      files.set('/start/a2.tar', two.tar);
      await writeFile(join(root, 'start', 'config', 'images.yaml'), yaml(two.sha256, '/start/a2.tar'));
      assert.equal(await appliance.config.reload('test'), true);
      await appliance.ingestIdle();
      assert.deepEqual(fixture.requests.slice(requestsBefore).map((request) => request.path), ['/start/a2.tar'], 'only the changed image is fetched');
      assert.equal(await getText(appliance, '/images/a/boot/vmlinuz'), 'kernel two');
    } finally {
      await appliance.close();
    }

    // ingest: {mode: manual} for all, one image saying auto.
    const global = await start('global-manual', `ingest:\n  mode: manual\nimages:\n${imageYaml('a', sha256Source('/start/a.tar', one.sha256))}${imageYaml('c', sha256Source('/start/c.tar', two.sha256), '    ingest: auto\n')}`);
    try {
      await global.appliance.ingestIdle();
      assert.deepEqual((await ingestEvents(global.appliance)).map((event) => `${event.image} ${event.phase}`), ['c running', 'c installed']);
    } finally {
      await global.appliance.close();
    }
  });

  test('a 503 is retried after the runner\'s backoff on its clock, then installs; a CLI ingest holding the lock is waited for', { timeout: 60_000 }, async () => {
    const one = await release('one');
    files.set('/flaky/a.tar', 503);
    const { appliance, clock, dataDir } = await start('retry', `images:\n${imageYaml('a', sha256Source('/flaky/a.tar', one.sha256))}`);
    // Another process (a `bootstation ingest`) holds the lock of b until the test lets go.
    const holder = spawn('sleep', ['60']);
    try {
      await appliance.ingestIdle();
      const [running, retrying] = await ingestEvents(appliance);
      assert.deepEqual(running, { image: 'a', phase: 'running' });
      assert.equal(retrying?.phase, 'retrying');
      assert.equal(retrying?.retryInMs, 60_000, 'the first wait is retry.firstMs');
      assert.match(retrying?.message ?? '', /HTTP 503/);
      assert.match(await getMenu(appliance), /^item --gap -- Image a \(failed, retrying: downloading http:\/\/127\.0\.0\.1:\d+\/flaky\/a\.tar failed 6 times in a row \(HTTP 503\)\)$/m);

      clock.advance(59_999);
      await appliance.ingestIdle();
      assert.equal((await ingestEvents(appliance)).length, 2, 'nothing before the wait is over');
      clock.advance(1);
      await appliance.ingestIdle();
      const third = (await ingestEvents(appliance))[3];
      assert.equal(third?.retryInMs, 120_000, 'the second wait doubles');
      files.set('/flaky/a.tar', one.tar);
      clock.advance(120_000);
      await appliance.ingestIdle();
      assert.deepEqual((await ingestEvents(appliance)).slice(-2), [{ image: 'a', phase: 'running' }, { image: 'a', phase: 'installed' }]);
      assert.equal(await getText(appliance, '/images/a/boot/initrd.img'), 'initrd one');

      // b: the lock file names a live process, as a running CLI ingest's does.
      files.set('/flaky/b.tar', one.tar);
      await mkdir(join(dataDir, 'images'), { recursive: true });
      await writeFile(join(dataDir, 'images', '.b.lock'), String(holder.pid));
      await writeFile(join(root, 'retry', 'config', 'images.yaml'), `images:\n${imageYaml('a', sha256Source('/flaky/a.tar', one.sha256))}${imageYaml('b', sha256Source('/flaky/b.tar', one.sha256))}`);
      await appliance.config.reload('test');
      await appliance.ingestIdle();
      const busy = (await ingestEvents(appliance)).at(-1);
      assert.equal(busy?.phase, 'retrying');
      assert.match(busy?.message ?? '', /another ingest of b is running/);
      holder.kill();
      await rm(join(dataDir, 'images', '.b.lock'));
      clock.advance(60_000);
      await appliance.ingestIdle();
      assert.equal((await ingestEvents(appliance)).at(-1)?.phase, 'installed');
    } finally {
      holder.kill();
      await appliance.close();
    }
  });

  test('the menu says "downloading 42 %" during a download and "failed: <sentence>" after a permanent failure, which is not retried', { timeout: 60_000 }, async () => {
    const one = await release('one');
    let letGo: () => void = () => {};
    // A download stopped half-way until the test lets go.
    const slow = await startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-length': String(one.tar.length) });
      response.write(one.tar.subarray(0, one.tar.length / 2));
      letGo = () => response.end(one.tar.subarray(one.tar.length / 2));
    });
    const { appliance, clock } = await start('menu', `images:\n${imageYaml('gone', sha256Source('/nothing-here.tar', one.sha256))}  - id: slow\n    label: Image slow\n    source: {url: "${slow.url('/slow.tar')}", sha256: ${one.sha256}}\n    boot: {kernel: boot/vmlinuz, initrd: [boot/initrd.img]}\n`);
    try {
      const downloading = await waitForMenu(appliance, /^item --gap -- Image slow \(downloading 50 %\)$/m);
      assert.match(downloading, /^item --gap -- Image gone \(failed: http:\/\/127\.0\.0\.1:\d+\/nothing-here\.tar does not exist on the server \(HTTP 404\)\)$/m);
      const api = (await (await fetch(`${appliance.serverUrl}/api/images`)).json()) as { ingestStates: Record<string, { phase: string; done?: number; total?: number; code?: string }> };
      assert.deepEqual(api.ingestStates['slow'], { phase: 'running', done: one.tar.length / 2, total: one.tar.length });
      assert.equal(api.ingestStates['gone']?.code, 'INGEST_NOT_FOUND');
      letGo();
      await appliance.ingestIdle();
      assert.match(await getMenu(appliance), /^item bs-image-slow Image slow$/m);
      assert.equal(clock.pending(), 1, 'only the release check waits on the clock: the 404 is not retried');
      assert.deepEqual((await ingestEvents(appliance)).filter((event) => event.image === 'gone').map((event) => event.phase), ['running', 'failed']);
    } finally {
      letGo();
      await appliance.close();
      await slow.close();
    }
  });

  test('a new release named by the checksums list is installed on the schedule beside the old one and switched atomically; a bad checksum installs nothing; rollback pins; keep_versions prunes', { timeout: 90_000 }, async () => {
    const releases = await Promise.all(['one', 'two', 'three', 'four'].map(release));
    const publish = (n: number, listed = n): void => {
      files.set('/rel/live.tar', releases[n]!.tar);
      files.set('/rel/SHA256SUMS', Buffer.from(`${releases[listed]!.sha256}  live.tar\n`));
    };
    publish(0);
    const source = `{url: "${fixture.url('/rel/live.tar')}", checksums: "${fixture.url('/rel/SHA256SUMS')}"}`;
    const { appliance, clock, dataDir } = await start('schedule', `server:\n  admin_token: ${TOKEN}\ningest:\n  check_every: 1h\n  keep_versions: 1\nimages:\n${imageYaml('live', source)}`);
    const link = join(dataDir, 'images', 'live');
    const versions = async (): Promise<string[]> => (await readdir(join(dataDir, 'images', '.versions'))).sort();
    try {
      await appliance.ingestIdle();
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel one');
      const first = await readlink(link);
      // A boot in progress: the kernel is open when the new release arrives.
      const held = await open(join(link, 'boot', 'vmlinuz'));

      publish(1);
      const requests = fixture.requests.length;
      clock.advance(3_600_000 - 1);
      await appliance.ingestIdle();
      assert.equal(fixture.requests.length, requests, 'nothing is checked before check_every');
      clock.advance(1);
      await appliance.ingestIdle();
      assert.equal((await ingestEvents(appliance)).at(-1)?.phase, 'installed');
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel two');
      assert.notEqual(await readlink(link), first, 'the link names the new version');
      assert.equal((await held.readFile('utf8')), 'kernel one', 'the open file still reads the old release');
      await held.close();
      assert.equal((await versions()).length, 2, 'the old version is kept beside the new one');

      // A tampered archive: the list names a new digest (release four's), the server sends release three.
      publish(2, 3);
      const serving = await readlink(link);
      clock.advance(3_600_000);
      await appliance.ingestIdle();
      const failed = (await ingestEvents(appliance)).at(-1);
      assert.equal(failed?.phase, 'failed');
      assert.match(failed?.message ?? '', /has sha256 .* was expected; .*check the checksum list http:\/\/\S+\/rel\/SHA256SUMS and the mirror$/);
      assert.equal(await readlink(link), serving, 'nothing was installed');
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel two', 'the old version keeps serving');
      assert.equal((await versions()).length, 2);

      // Rollback from the dashboard's endpoint: release one serves again and stays, though the list names two.
      publish(1);
      const post = (path: string) => fetch(`${appliance.serverUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      const rolled = await post('/api/images/live/rollback');
      assert.equal(rolled.status, 200);
      assert.deepEqual(await rolled.json(), { image: 'live', from: serving.slice('.versions/'.length), to: first.slice('.versions/'.length) });
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel one');
      const status = ((await (await fetch(`${appliance.serverUrl}/api/images`)).json()) as { images: Array<{ pinned: string | null; diskUsed: number; versions: unknown[] }>; diskFree: number });
      assert.equal(status.images[0]?.pinned, first.slice('.versions/'.length));
      assert.equal(status.images[0]?.versions.length, 2);
      assert.equal(status.images[0]?.diskUsed, 2 * ('kernel one'.length + 'initrd one'.length));
      assert.ok(status.diskFree > 0, 'the free space of the data disk');
      assert.equal((await post('/api/images/live/rollback')).status, 409, 'there is nothing older');
      // Ids in the path are looked up in images.yaml, never joined into a path of their own.
      for (const hostile of ['..%2F..%2Fetc', '.versions', '%2e%2e', 'live%00']) assert.equal((await post(`/api/images/${hostile}/rollback`)).status, 404, hostile);
      assert.equal((await fetch(`${appliance.serverUrl}/api/images/live/rollback`, { method: 'POST' })).status, 401, 'the token is needed');

      const queued = await post('/api/images/live/check');
      assert.equal(queued.status, 202);
      assert.deepEqual(await queued.json(), { queued: ['live'] });
      await appliance.ingestIdle();
      assert.equal((await ingestEvents(appliance)).at(-1)?.phase, 'pinned', 'the release rolled back from is not installed again');
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel one');

      // A newer release ends the pin; keep_versions 1 leaves it and the one before it.
      publish(3);
      clock.advance(3_600_000);
      await appliance.ingestIdle();
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel four');
      assert.equal((await versions()).length, 2, 'keep_versions: 1 prunes to the serving version and one before it');

      // The CLI's rollback takes the same lock and switches the same link.
      const cli = await runCli(['images', 'rollback', 'live', '--config', join(root, 'schedule', 'images.yaml'), '--data', dataDir]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^live: serving live-\S+ again \(was live-\S+\)/);
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel two');
      const check = await runCli(['images', 'check', '--config', join(root, 'schedule', 'images.yaml'), '--data', dataDir]);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stderr, /^live: kept the version a rollback pinned; bootstation ingest live installs the new release$/m);
      assert.equal(await getText(appliance, '/images/live/boot/vmlinuz'), 'kernel two', 'the check leaves the pinned version serving');
    } finally {
      await appliance.close();
    }
  });
});

async function waitForMenu(appliance: Appliance, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await getMenu(appliance);
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) assert.fail(`the menu never matched ${pattern}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
