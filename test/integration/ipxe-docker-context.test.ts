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
// Regenerate the golden Dockerfile with: UPDATE_GOLDEN=1 node --test test/integration/ipxe-docker-context.test.ts

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
const pinText = '{"version": "v2.0.0"}\n';

test('the Dockerfile defines the ipxe stage that runs scripts/build-ipxe.sh with the build arguments', () => {
  const dockerfile = renderIpxeDockerfile();
  assertGolden('ipxe/Dockerfile.ipxe-stage', dockerfile);
  // Firmware for the clients: the stage runs on the build machine whatever platform the image is for.
  assert.match(dockerfile, new RegExp(`^FROM --platform=\\$\\{BUILDPLATFORM:-linux\\} \\$\\{DEBIAN_IMAGE\\} AS ${IPXE_STAGE}$`, 'm'));
  assert.doesNotMatch(dockerfile, /^ARG BUILDPLATFORM=/m, 'a default for BUILDPLATFORM would override the build machine BuildKit names');
  for (const arg of Object.keys(buildArgs({ keymap: 'de', targets: ['bios'], sourceName: 'ipxe', baseImage: 'debian' }))) {
    assert.match(dockerfile, new RegExp(`^ARG ${arg}\\b`, 'm'), `the Dockerfile must declare ARG ${arg}`);
  }
  assert.doesNotMatch(dockerfile, /^# syntax=|--mount=/m, 'no syntax line or BuildKit mounts: the classic builder runs it, and no frontend image can be pulled here');
});

test('the project Dockerfile carries the same ipxe stage, and the committed embed.ipxe is the script for port 80', async () => {
  const project = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
  assert.ok(
    project.includes(renderIpxeDockerfile()),
    'the ipxe stage in the project Dockerfile differs from renderIpxeDockerfile() in src/ipxe/docker-context.ts; replace the stage with its output:\n  node -e "import(\'./src/ipxe/docker-context.ts\').then((m) => process.stdout.write(m.renderIpxeDockerfile()))"',
  );
  assert.equal(await readFile(new URL('../../ipxe-src/embed.ipxe', import.meta.url), 'utf8'), renderEmbedScript(80), 'ipxe-src/embed.ipxe is renderEmbedScript(80); regenerate it from src/ipxe/embed-script.ts');
  // The project's own stage names: build and runtime, with the base images as build arguments.
  assert.match(project, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
  // The build stage's output (dist/, node_modules without native addons) is the same on every platform: it runs on the build machine.
  assert.match(project, /^ARG BUILD_NODE_IMAGE=\$\{NODE_IMAGE\}$/m);
  assert.match(project, /^FROM --platform=\$\{BUILDPLATFORM:-linux\} \$\{BUILD_NODE_IMAGE\} AS build$/m);
  assert.match(project, /^FROM \$\{NODE_IMAGE\} AS runtime$/m);
  assert.doesNotMatch(project, /^# syntax=/m);
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.match(project, new RegExp(`^ARG VERSION=${version.replaceAll('.', '\\.')}$`, 'm'), 'the Dockerfile\'s VERSION default must be package.json\'s version');
});

test('a source folder: generated files first, then the tree under ipxe-src/source/ipxe without .git or earlier build products', async () => {
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

  const files = contextFiles({ keymap: 'sr-latin', httpPort: 8080, buildScript, pinText });
  const entries = await entriesOf(packBuildContext(files, { path: source, kind: 'dir' }));
  assert.deepEqual(entries.map((entry) => entry.name), [
    'Dockerfile',
    'scripts/build-ipxe.sh',
    'ipxe-src/config/local/console.h',
    'ipxe-src/config/local/general.h',
    'ipxe-src/config/local/branding.h',
    'ipxe-src/embed.ipxe',
    'ipxe-src/pin.json',
    'ipxe-src/source/ipxe/src/Makefile',
    'ipxe-src/source/ipxe/src/Makefile.link',
    'ipxe-src/source/ipxe/src/binary-named-file',
    'ipxe-src/source/ipxe/src/util/genfsimg',
  ]);
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  assert.equal(byName.get('Dockerfile')?.body, renderIpxeDockerfile());
  assert.equal(byName.get('scripts/build-ipxe.sh')?.body, buildScript);
  assert.equal(byName.get('scripts/build-ipxe.sh')?.mode, 0o755, 'the script stays executable');
  assert.equal(byName.get('ipxe-src/pin.json')?.body, pinText, 'the pin in effect goes in, for the stage to check a tarball against');
  assert.equal(byName.get('ipxe-src/config/local/console.h')?.body, renderOverlay()['config/local/console.h']);
  assert.equal(byName.get('ipxe-src/embed.ipxe')?.body, renderEmbedScript(8080, 'sr-latin'), 'the embedded script selects the layout of the build');
  assert.equal(byName.get('ipxe-src/source/ipxe/src/util/genfsimg')?.mode, 0o755);
  assert.equal(byName.get('ipxe-src/source/ipxe/src/Makefile.link')?.type, 'symlink');
  assert.equal(byName.get('ipxe-src/source/ipxe/src/Makefile.link')?.linkname, 'Makefile');
});

test('a tarball goes in as it is, and the same inputs give the same bytes (so Docker can cache the layers)', async () => {
  const tarball = join(dir, 'ipxe-2.0.0.tar.gz');
  await writeFile(tarball, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
  const files = contextFiles({ keymap: 'de', httpPort: 80, buildScript, pinText });
  const entries = await entriesOf(packBuildContext(files, { path: tarball, kind: 'tarball' }));
  assert.equal(entries.at(-1)?.name, 'ipxe-src/source/ipxe-2.0.0.tar.gz');
  assert.equal(entries.at(-1)?.body, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]).toString());
  const bytes = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of Readable.from(packBuildContext(files, { path: tarball, kind: 'tarball' }))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  assert.ok((await bytes()).equals(await bytes()));
  assert.deepEqual(buildArgs({ keymap: 'de', targets: ['bios', 'efi64'], sourceName: 'ipxe-2.0.0.tar.gz', baseImage: 'debian:bookworm-slim' }), {
    KEYMAP: 'de', TARGETS: 'bios,efi64', IPXE_SOURCE: 'ipxe-2.0.0.tar.gz', DEBIAN_IMAGE: 'debian:bookworm-slim',
  });
});

test('a source that cannot be read fails the stream instead of sending half a context', async () => {
  const pack = packBuildContext(contextFiles({ keymap: 'us', httpPort: 80, buildScript, pinText }), { path: join(dir, 'missing.tar.gz'), kind: 'tarball' });
  await assert.rejects(entriesOf(pack), /ENOENT/);
});
