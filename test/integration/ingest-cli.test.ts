import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freeTcpPort, runCli, startCli, waitFor } from '../support/cli.ts';
import { buildTar } from '../support/ingest-archives.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-ingest-cli-'));
after(() => rm(root, { recursive: true, force: true }));

const ARCHIVE = await buildTar([{ name: 'live/vmlinuz', content: 'cli kernel' }, { name: 'live/initrd.img', content: 'cli initrd' }, { name: 'live/root.squashfs', content: 'root fs' }]);
const SHA = createHash('sha256').update(ARCHIVE).digest('hex');
// Large enough that a stalled transfer is still running when the test kills the ingest.
const BIG = await buildTar([{ name: 'live/vmlinuz', content: 'big kernel' }, { name: 'live/initrd.img', content: 'x'.repeat(4 * 1024 * 1024) }]);
const BIG_SHA = createHash('sha256').update(BIG).digest('hex');
let stall = true;

const server = await startHttpFixture((request, response) => {
  const path = new URL(request.url ?? '/', 'http://x').pathname;
  if (path === '/live.tar') return sendBody(request, response, ARCHIVE, { ranges: true });
  if (path === '/big.tar') {
    // While `stall` is set: headers and the first MiB, then silence, so the test can kill the ingest mid-download.
    if (stall && !request.headers.range) {
      response.writeHead(200, { 'content-length': String(BIG.length) });
      response.write(BIG.subarray(0, 1024 * 1024));
      return;
    }
    return sendBody(request, response, BIG, { ranges: true });
  }
  response.writeHead(404).end();
});
after(() => server.close());

async function writeConfig(name: string, images: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, `menu:\n  title: Ingest test\nimages:\n${images}`);
  return path;
}

const liveImage = (id: string, url: string, sha: string, version = '1.0'): string =>
  `  - id: ${id}\n    label: Live ${id}\n    version: "${version}"\n    source: {url: "${url}", sha256: ${sha}}\n    extract: [live/root.squashfs]\n    boot: {kernel: live/vmlinuz, initrd: [live/initrd.img], args: "boot=live fetch=\${base-url}live/root.squashfs"}\n`;

describe('bootstation ingest and images', () => {
  test('a running server shows the image ready and serves its files once ingest finishes; ingest again does nothing; --force redoes it', { timeout: 60_000 }, async () => {
    const data = join(root, 'data-serve');
    // ingest: manual, so this server leaves the ingest to the CLI (auto-ingest.test.ts covers the server's own).
    const config = await writeConfig('serve.yaml', liveImage('live', server.url('/live.tar'), SHA));
    await writeFile(config, `ingest:\n  mode: manual\n${await readFile(config, 'utf8')}`);
    const port = await freeTcpPort();
    const serve = startCli(['serve', '--config', config, '--data', data, '--address', '127.0.0.1', '--http-port', String(port), '--no-proxy-dhcp', '--tftp-port', '0']);
    const menu = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/menu.ipxe?platform=pcbios`)).text();
    try {
      assert.match(await waitFor('the menu', menu), /Live live \(not ready: missing live\/vmlinuz, live\/initrd\.img\)/);

      const first = await runCli(['ingest', '--config', config, '--data', data]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, 'ingest: 1 installed, 0 up to date, 0 failed\n');
      assert.match(first.stderr, /^live: downloading http:\/\/127\.0\.0\.1:\d+\/live\.tar$/m);
      assert.match(first.stderr, /^live: installed 3 files; archive verified \(sha256 from images\.yaml\)$/m);

      // The server re-checks boot files at most every 2 s (cacheBootFileCheck): the menu turns ready within
      // that, given 4 s on a busy machine.
      const ready = await waitFor('the menu to list the image as ready', async () => {
        const text = await menu();
        return /not ready/.test(text) ? undefined : text;
      }, 4000);
      assert.match(ready, /^item \S+ Live live$/m);
      const kernel = await fetch(`http://127.0.0.1:${port}/images/live/live/vmlinuz`);
      assert.equal(kernel.status, 200);
      assert.equal(await kernel.text(), 'cli kernel');

      const requests = server.requests.length;
      const second = await runCli(['ingest', 'live', '--config', config, '--data', data]);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, 'ingest: 0 installed, 1 up to date, 0 failed\n');
      assert.equal(server.requests.length, requests, 'nothing is downloaded again');

      const target = await readlink(join(data, 'images', 'live'));
      const forced = await runCli(['ingest', '--force', '--config', config, '--data', data]);
      assert.equal(forced.stdout, 'ingest: 1 installed, 0 up to date, 0 failed\n');
      assert.notEqual(await readlink(join(data, 'images', 'live')), target, '--force installs a new version');
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/images/live/live/initrd.img`)).text(), 'cli initrd');

      const table = await runCli(['images', '--config', config, '--data', data]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^ID\s+STATE\s+VERSION\s+SIZE\s+ON DISK\s+LAST INGEST\s+SOURCE\s+VERIFIED$/m);
      // --force made a second version; the first is kept for a rollback (ingest.keep_versions).
      assert.match(table.stdout, /^live\s+ready\s+1\.0\s+27 B\s+54 B \(2 versions\)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+url\s+checksum in images\.yaml$/m);
      const json = JSON.parse((await runCli(['images', '--json', '--config', config, '--data', data])).stdout);
      assert.equal(json[0].state, 'ready');
      assert.equal(json[0].verification, 'archive verified (sha256 from images.yaml)');
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  test('one failing image does not stop the others; exit 1 with a summary', async () => {
    const data = join(root, 'data-fail');
    const config = await writeConfig('fail.yaml', liveImage('gone', server.url('/gone.tar'), SHA) + liveImage('live', server.url('/live.tar'), SHA));
    const before = JSON.parse((await runCli(['images', '--json', '--config', config, '--data', data])).stdout);
    assert.deepEqual(before.map((s: { state: string }) => s.state), ['not ingested', 'not ingested']);
    const result = await runCli(['ingest', '--config', config, '--data', data]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stdout,
      `ingest: 1 installed, 0 up to date, 1 failed\n  gone: ${server.url('/gone.tar')} does not exist on the server (HTTP 404); check source.url in images.yaml against the distribution's download page\n`,
    );
    const json = JSON.parse((await runCli(['images', '--json', '--config', config, '--data', data])).stdout);
    assert.deepEqual(json.map((s: { id: string; state: string }) => [s.id, s.state]), [['gone', 'failed'], ['live', 'ready']]);
    assert.equal(json[0].failure.code, 'INGEST_NOT_FOUND');
  });

  test('unknown ids and dir images exit 2 with the reason', async () => {
    const config = await writeConfig('ids.yaml', liveImage('live', server.url('/live.tar'), SHA) + '  - id: local\n    source: {dir: /srv/x}\n    boot: {kernel: k}\n');
    const unknown = await runCli(['ingest', 'nope', '--config', config, '--data', join(root, 'data-ids')]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'images.yaml has no image "nope"; images with a url or path source: live\n');
    const dir = await runCli(['ingest', 'local', '--config', config, '--data', join(root, 'data-ids')]);
    assert.equal(dir.code, 2);
    assert.match(dir.stderr, /image "local" has a dir source/);
  });

  test('--dry-run prints what would be fetched and extracted and touches nothing', async () => {
    const data = join(root, 'data-dry');
    const config = await writeConfig('dry.yaml', liveImage('live', server.url('/live.tar'), SHA));
    const requests = server.requests.length;
    const result = await runCli(['ingest', '--dry-run', '--config', config, '--data', data]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        'live: would',
        `  download ${server.url('/live.tar')}, verified against sha256 ${SHA}`,
        '  extract live/vmlinuz, live/initrd.img, live/root.squashfs',
        `  into ${join(data, 'images', 'live')}: not ingested yet`,
        '',
      ].join('\n'),
    );
    await assert.rejects(access(data), 'the data directory is not created');
    assert.equal(server.requests.length, requests, 'no request');
  });

  test('--dry-run shows source and checksum-list URLs without their credentials', async () => {
    const data = join(root, 'data-dry-secret');
    const secretUrl = server.url('/live.tar').replace('://', '://user:hunter2@') + '?token=s3cret';
    const config = await writeConfig(
      'dry-secret.yaml',
      `  - id: secret\n    source: {url: "${secretUrl}", checksums: "${server.url('/SHA256SUMS')}?token=s3cret"}\n    boot: {kernel: live/vmlinuz}\n`,
    );
    const result = await runCli(['ingest', '--dry-run', '--config', config, '--data', data]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /hunter2|s3cret/, 'no credential is printed');
    assert.match(result.stdout, /^ {2}download http:\/\/\*\*\*@127\.0\.0\.1:\d+\/live\.tar\?\*\*\*, verified against the digest that http:\/\/127\.0\.0\.1:\d+\/SHA256SUMS\?\*\*\* gives$/m);
  });

  test('Ctrl-C during a download says how to go on and exits 130', { timeout: 30_000 }, async () => {
    const data = join(root, 'data-sigint');
    const config = await writeConfig('sigint.yaml', liveImage('live', server.url('/big.tar'), BIG_SHA));
    stall = true;
    const ingest = startCli(['ingest', '--config', config, '--data', data]);
    await waitFor('a partial download', async () => (await readdir(join(data, 'cache'))).some((n) => n.endsWith('.part')));
    ingest.child.kill('SIGINT');
    assert.equal(await ingest.exited, 130);
    assert.match(ingest.output(), /^ingest interrupted: installed versions keep serving; run bootstation ingest again to resume$/m);
  });

  test('an ingest killed mid-download leaves the old version serving; the next run cleans up and resumes', { timeout: 60_000 }, async () => {
    const data = join(root, 'data-kill');
    const config = await writeConfig('kill-v1.yaml', liveImage('live', server.url('/live.tar'), SHA));
    assert.equal((await runCli(['ingest', '--config', config, '--data', data])).code, 0);
    const before = await readFile(join(data, 'images', 'live', 'live', 'vmlinuz'), 'utf8');

    const v2 = await writeConfig('kill-v2.yaml', liveImage('live', server.url('/big.tar'), BIG_SHA, '2.0'));
    stall = true;
    const ingest = startCli(['ingest', '--config', v2, '--data', data]);
    const cache = join(data, 'cache');
    await waitFor('a partial download', async () => {
      const names = await readdir(cache);
      const part = names.find((n) => n.endsWith('.part'));
      return part !== undefined && (await stat(join(cache, part))).size > 0;
    });
    ingest.child.kill('SIGKILL');
    await ingest.exited;
    assert.equal(await readFile(join(data, 'images', 'live', 'live', 'vmlinuz'), 'utf8'), before, 'the old version still serves');

    stall = false;
    const requests = server.requests.length;
    const again = await runCli(['ingest', '--config', v2, '--data', data]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^live: resuming http:\/\/127\.0\.0\.1:\d+\/big\.tar at byte \d+$/m);
    assert.match(server.requests[requests]?.range ?? '', /^bytes=[1-9]\d*-$/, 'the download continues where it was cut');
    assert.equal(await readFile(join(data, 'images', 'live', 'live', 'vmlinuz'), 'utf8'), 'big kernel');
    assert.ok(!(await readdir(join(data, 'images'))).some((n) => n.endsWith('.lock')), 'the stale lock is gone');
  });
});
