import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseIpxeBuildManifest, type IpxeBuildManifest } from '../../src/ipxe/manifest.ts';
import { freeTcpPort, runCli } from '../support/cli.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { createStandInIpxeSource, createStandInRelease, standInCalls, writePin, type StandInRelease } from '../support/ipxe-stand-in-source.ts';
import { skipOrFail } from '../support/skip-policy.ts';

// The download-verify-compile path of `bootstation ipxe build`, as an air-gapped site or a mirror uses it.
// The real release cannot be downloaded here and may not be committed, so the tarball is a STAND-IN made at
// test time with `git archive` (a genuine pax header carrying its commit), served by a local HTTP server,
// and the pin file (--pin, the same option a site uses to pin its own release) carries the stand-in's digests.
const exec = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-fetch-'));
const record = join(dir, 'stand-in-record');
const config = join(dir, 'images.yaml');
const pinFile = join(dir, 'pin.json');
const files = new Map<string, Buffer>();
const server = await startHttpFixture((request, response) => {
  const body = files.get(new URL(request.url ?? '/', 'http://fixture').pathname);
  if (body) sendBody(request, response, body);
  else response.writeHead(404).end();
});

const missing = await exec('sh', ['-c', 'for t in gcc make perl git xz gzip; do command -v $t >/dev/null || echo $t; done; printf "#include <lzma.h>\\n" | gcc -E -x c - >/dev/null 2>&1 || echo liblzma-dev']).then((r) => r.stdout.trim());
const skip = skipOrFail('ipxe-fetch-source', missing ? `${missing.split('\n').join(', ')} not installed (Debian: gcc make perl git xz-utils liblzma-dev)` : undefined);

let release: StandInRelease;
let otherCommit: StandInRelease;
let otherStream: string;

before(async () => {
  if (skip) return;
  const source = join(dir, 'stand-in-source');
  await createStandInIpxeSource(source, record);
  release = await createStandInRelease(source, join(dir, 'release'), 'ipxe-2.0.0');
  // The same tree under another commit message: another commit id in the pax header.
  otherCommit = await createStandInRelease(source, join(dir, 'other-commit'), 'ipxe-2.0.0', { message: 'not the pinned commit' });
  otherStream = join(dir, 'other-stream.tar');
  await writeFile(otherStream, renameTopFolder(await readFile(release.tar)));
  for (const [path, file] of [
    ['/ipxe-2.0.0.tar.gz', release.gzip], ['/ipxe-2.0.0.tar.xz', release.xz], ['/ipxe-2.0.0.tar', release.tar],
    ['/other-commit.tar.gz', otherCommit.gzip], ['/other-stream.tar', otherStream],
  ] as const) files.set(path, await readFile(file));
  await writePin(pinFile, { commit: release.commit, url: server.url('/ipxe-2.0.0.tar.gz'), tarSha256: release.tarSha256 });
  await writeFile(config, 'ipxe:\n  keymap: de\n');
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * The pinned release with its top folder renamed (ipxe-2.0.0/ → ipxe-2.0.1/): the pax header still names the
 * pinned commit, but the tar stream is another. Same-length names keep every offset; checksums are redone.
 */
function renameTopFolder(tar: Buffer): Buffer {
  const renamed = Buffer.from(tar);
  const from = Buffer.from('ipxe-2.0.0/');
  const to = Buffer.from('ipxe-2.0.1/');
  for (let at = renamed.indexOf(from); at !== -1; at = renamed.indexOf(from, at + 1)) to.copy(renamed, at);
  fixChecksums(renamed);
  return renamed;
}

// A ustar header's checksum (bytes 148–155) is the sum of its bytes with that field read as spaces.
function fixChecksums(tar: Buffer): void {
  for (let offset = 0; offset + 512 <= tar.length; offset += 512) {
    const header = tar.subarray(offset, offset + 512);
    if (header.subarray(257, 262).toString() !== 'ustar') continue;
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
}

function build(data: string, ...args: string[]): ReturnType<typeof runCli> {
  return runCli(['ipxe', 'build', '--local', '--config', config, '--data', data, '--pin', pinFile, '--targets', 'bios', ...args]);
}

async function manifestOf(data: string): Promise<IpxeBuildManifest> {
  const manifest = parseIpxeBuildManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'));
  assert.ok(manifest, 'data/ipxe/manifest.json must be a manifest bootstation wrote');
  return manifest;
}

describe('bootstation ipxe build: download, verify against the pin, compile', { skip }, () => {
  test('the pinned release (gzip) is downloaded from the pin\'s URL, checked, compiled, and the manifest names its version and commit', async () => {
    const data = join(dir, 'data-gzip');
    const calls = (await standInCalls(record)).length;
    const result = await build(data);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`ipxe-v2\\.0\\.0\\.tar is iPXE v2\\.0\\.0 as .*pin\\.json pins it \\(commit ${release.commit}, tar stream SHA-256 ${release.tarSha256}\\)`));
    assert.deepEqual((await standInCalls(record)).slice(calls).map((call) => call.goal), ['bin/undionly.kpxe'], 'make ran after the check');
    const manifest = await manifestOf(data);
    assert.equal(manifest.version, 'v2.0.0');
    assert.equal(manifest.commit, release.commit, 'the commit comes from the pax header');
    assert.ok(server.requests.some((request) => request.path === '/ipxe-2.0.0.tar.gz'));
  });

  test('xz and plain tar from a --mirror are checked the same way: same stream, same build identity', async () => {
    const gzipIdentity = (await manifestOf(join(dir, 'data-gzip'))).identity;
    for (const path of ['/ipxe-2.0.0.tar.xz', '/ipxe-2.0.0.tar']) {
      const data = join(dir, `data${path.replaceAll('/', '-')}`);
      const result = await build(data, '--mirror', server.url(path));
      assert.equal(result.code, 0, `${path}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /is iPXE v2\.0\.0 as .* pins it/);
      const manifest = await manifestOf(data);
      assert.equal(manifest.commit, release.commit);
      assert.equal(manifest.identity, gzipIdentity, `${path}: the identity is the decompressed stream's, whatever the compression`);
    }
  });

  test('a local copy (--source FILE) is checked the same way', async () => {
    const result = await build(join(dir, 'data-local'), '--source', release.xz);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const refused = await build(join(dir, 'data-local-other'), '--source', otherCommit.gzip);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not iPXE v2\.0\.0 as .*pin\.json pins it/);
  });

  test('a tarball of another commit is refused before anything is compiled, naming both commits', async () => {
    const data = join(dir, 'data-other-commit');
    const calls = (await standInCalls(record)).length;
    const result = await build(data, '--mirror', server.url('/other-commit.tar.gz'));
    assert.equal(result.code, 1);
    assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('build-ipxe:')).length, 1, `one sentence:\n${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^build-ipxe: ipxe-v2\\.0\\.0\\.tar is not iPXE v2\\.0\\.0 as \\S+ pins it: its tar header names commit ${otherCommit.commit}, the pin names ${release.commit}; fetch the release again, or pin the release you mean$`, 'm'));
    assert.equal((await standInCalls(record)).length, calls, 'no make run');
    assert.deepEqual(await readdir(join(data, 'ipxe')).catch(() => []), [], 'nothing installed');
  });

  test('a tar stream with the pinned commit but other bytes is refused, naming both digests', async () => {
    const data = join(dir, 'data-other-stream');
    const calls = (await standInCalls(record)).length;
    const result = await build(data, '--mirror', server.url('/other-stream.tar'));
    assert.equal(result.code, 1);
    const digest = (await exec('sha256sum', [otherStream])).stdout.split(' ')[0];
    assert.notEqual(digest, release.tarSha256);
    assert.match(result.stderr, new RegExp(`^build-ipxe: ipxe-v2\\.0\\.0\\.tar is not iPXE v2\\.0\\.0 as \\S+ pins it: its decompressed tar stream has SHA-256 ${digest}, the pin says ${release.tarSha256}; fetch the release again, or pin the release you mean$`, 'm'));
    assert.equal((await standInCalls(record)).length, calls, 'no make run');
  });

  test('an unreachable mirror fails with one sentence naming it', async () => {
    const port = await freeTcpPort();
    const result = await build(join(dir, 'data-unreachable'), '--mirror', `http://127.0.0.1:${port}/ipxe-2.0.0.tar.gz`);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `bootstation: the iPXE v2.0.0 source could not be downloaded from http://127.0.0.1:${port}/ipxe-2.0.0.tar.gz (nothing answers there); check the address given with --mirror or the network, or download the release elsewhere and build with --source FILE\n`,
    );
  });

  test('a mirror URL with credentials is shown without them', async () => {
    const port = await freeTcpPort();
    const result = await build(join(dir, 'data-secret'), '--mirror', `http://user:s3cret@127.0.0.1:${port}/ipxe-2.0.0.tar.gz?token=t0ken`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`downloaded from http://\\*\\*\\*@127\\.0\\.0\\.1:${port}/ipxe-2\\.0\\.0\\.tar\\.gz\\?\\*\\*\\* \\(nothing answers there\\)`));
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /s3cret|t0ken/);
  });

  test('a mirror without the file fails with one sentence too', async () => {
    const result = await build(join(dir, 'data-404'), '--mirror', server.url('/no-such.tar.gz'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^bootstation: the iPXE v2\.0\.0 source could not be downloaded from http:\/\/127\.0\.0\.1:\d+\/no-such\.tar\.gz \(the server has no such file\); [^\n]+\n$/);
  });
});

describe('bootstation ipxe build: pin and mirror options', () => {
  test('a pin that cannot be used stops the build before any download', async () => {
    const bad = join(dir, 'bad-pin.json');
    await writeFile(bad, '{"version": "v2.0.0", "url": "http://127.0.0.1:1/x"}\n');
    const requests = server.requests.length;
    const result = await runCli(['ipxe', 'build', '--local', '--config', config, '--data', join(dir, 'data-bad-pin'), '--pin', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^bootstation: \S+bad-pin\.json: "commit" must be the release tag's commit/);
    assert.equal(server.requests.length, requests);
  });

  test('--mirror with --source, or a mirror that is not an http(s) URL, is a usage error', async () => {
    for (const [args, message] of [
      [['--mirror', 'http://mirror.example/ipxe.tar.gz', '--source', dir], /--mirror and --source both say where the iPXE source comes from; give one of them/],
      [['--mirror', 'ftp://mirror.example/ipxe.tar.gz'], /--mirror must be the http\(s\) URL of the release tarball, not "ftp:\/\/mirror\.example\/ipxe\.tar\.gz"/],
    ] as const) {
      const result = await runCli(['ipxe', 'build', '--local', '--config', config, '--data', join(dir, 'data-usage'), ...args]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
    }
  });
});
