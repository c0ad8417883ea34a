import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import tar from 'tar-stream';
import { BUILD_SCRIPT } from '../../src/ipxe/build.ts';
import { buildArgs, contextFiles, IPXE_STAGE, packBuildContext, renderIpxeDockerfile } from '../../src/ipxe/docker-context.ts';
import { renderEmbedScript } from '../../src/ipxe/embed-script.ts';
import { renderOverlay } from '../../src/ipxe/overlay.ts';
import { assertGolden } from '../support/golden.ts';

// The build context `bootstation ipxe build` streams to Docker, checked without Docker.
// Regenerate the golden Dockerfile with: UPDATE_GOLDEN=1 node --test test/unit/ipxe-docker-context.test.ts

const dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-context-'));
after(() => rm(dir, { recursive: true, force: true }));

interface Entry {
  name: string;
  type: string;
  mode: number;
  body: string;
  linkname?: string;
}

async function entriesOf(pack: tar.Pack): Promise<Entry[]> {
  // An error of the pack (say, an unreadable source) ends the read; pipe alone would leave it waiting.
  const failed = new Promise<never>((_resolve, reject) => pack.on('error', reject));
  const read = (async () => {
    const entries: Entry[] = [];
    for await (const entry of pack.pipe(tar.extract())) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const { name, type, mode, linkname } = entry.header;
      entries.push({ name, type: type ?? 'file', mode: mode ?? 0, body: Buffer.concat(chunks).toString(), ...(linkname ? { linkname } : {}) });
    }
    return entries;
  })();
  return Promise.race([read, failed]);
}

const buildScript = await readFile(BUILD_SCRIPT, 'utf8');

test('the Dockerfile defines the ipxe stage that runs scripts/build-ipxe.sh with the build arguments', () => {
  const dockerfile = renderIpxeDockerfile();
  assertGolden('ipxe/Dockerfile.ipxe-stage', dockerfile);
  assert.match(dockerfile, new RegExp(`^FROM \\$\\{IPXE_BASE_IMAGE\\} AS ${IPXE_STAGE}$`, 'm'));
  for (const arg of Object.keys(buildArgs({ keymap: 'de', targets: ['bios'], sourceName: 'ipxe', baseImage: 'debian' }))) {
    assert.match(dockerfile, new RegExp(`^ARG ${arg}\\b`, 'm'), `the Dockerfile must declare ARG ${arg}`);
  }
  assert.doesNotMatch(dockerfile, /^# syntax=|--mount=/m, 'no syntax line or BuildKit mounts: the classic builder runs it, and no frontend image can be pulled here');
});

test('a source folder: generated files first, then the tree under source/ipxe without .git or earlier build products', async () => {
  const source = join(dir, 'ipxe');
  await mkdir(join(source, 'src', 'bin-x86_64-efi'), { recursive: true });
  await mkdir(join(source, 'src', 'bin'), { recursive: true });
  await mkdir(join(source, '.git'), { recursive: true });
  await mkdir(join(source, 'src', 'util'), { recursive: true });
  await writeFile(join(source, 'src', 'Makefile'), 'VERSION_MAJOR = 2\n');
  await writeFile(join(source, 'src', 'util', 'genfsimg'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(source, 'src', 'bin', 'undionly.kpxe'), 'old build');
  await writeFile(join(source, 'src', 'bin-x86_64-efi', 'ipxe.efi'), 'old build');
  await writeFile(join(source, '.git', 'HEAD'), 'ref: refs/heads/master\n');
  await writeFile(join(source, 'src', 'binary-named-file'), 'kept: only bin and bin-* folders are build products');
  await symlink('Makefile', join(source, 'src', 'Makefile.link'));

  const files = contextFiles({ keymap: 'sr-latin', httpPort: 8080, buildScript });
  const entries = await entriesOf(packBuildContext(files, { path: source, kind: 'dir' }));
  assert.deepEqual(entries.map((entry) => entry.name), [
    'Dockerfile',
    'scripts/build-ipxe.sh',
    'ipxe-src/config/local/console.h',
    'ipxe-src/config/local/general.h',
    'ipxe-src/config/local/branding.h',
    'embed.ipxe',
    'source/ipxe/src/Makefile',
    'source/ipxe/src/Makefile.link',
    'source/ipxe/src/binary-named-file',
    'source/ipxe/src/util/genfsimg',
  ]);
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  assert.equal(byName.get('Dockerfile')?.body, renderIpxeDockerfile());
  assert.equal(byName.get('scripts/build-ipxe.sh')?.body, buildScript);
  assert.equal(byName.get('scripts/build-ipxe.sh')?.mode, 0o755, 'the script stays executable');
  assert.equal(byName.get('ipxe-src/config/local/console.h')?.body, renderOverlay('sr-latin')['config/local/console.h']);
  assert.equal(byName.get('embed.ipxe')?.body, renderEmbedScript(8080));
  assert.equal(byName.get('source/ipxe/src/util/genfsimg')?.mode, 0o755);
  assert.equal(byName.get('source/ipxe/src/Makefile.link')?.type, 'symlink');
  assert.equal(byName.get('source/ipxe/src/Makefile.link')?.linkname, 'Makefile');
});

test('a tarball goes in as it is, and the same inputs give the same bytes (so Docker can cache the layers)', async () => {
  const tarball = join(dir, 'ipxe-2.0.0.tar.gz');
  await writeFile(tarball, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
  const files = contextFiles({ keymap: 'de', httpPort: 80, buildScript });
  const entries = await entriesOf(packBuildContext(files, { path: tarball, kind: 'tarball' }));
  assert.equal(entries.at(-1)?.name, 'source/ipxe-2.0.0.tar.gz');
  assert.equal(entries.at(-1)?.body, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]).toString());
  const bytes = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of Readable.from(packBuildContext(files, { path: tarball, kind: 'tarball' }))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  assert.ok((await bytes()).equals(await bytes()));
  assert.deepEqual(buildArgs({ keymap: 'de', targets: ['bios', 'efi64'], sourceName: 'ipxe-2.0.0.tar.gz', baseImage: 'debian:bookworm-slim' }), {
    KEYMAP: 'de', TARGETS: 'bios,efi64', IPXE_SOURCE: 'ipxe-2.0.0.tar.gz', IPXE_BASE_IMAGE: 'debian:bookworm-slim',
  });
});

test('a source that cannot be read fails the stream instead of sending half a context', async () => {
  const pack = packBuildContext(contextFiles({ keymap: 'us', httpPort: 80, buildScript }), { path: join(dir, 'missing.tar.gz'), kind: 'tarball' });
  await assert.rejects(entriesOf(pack), /ENOENT/);
});
