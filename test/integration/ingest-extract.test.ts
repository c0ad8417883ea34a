import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openForReading } from '../../src/files/boot-files.ts';
import { openArchive, type ArchiveReader } from '../../src/ingest/archives.ts';
import { extractArchive, type ExtractPlan } from '../../src/ingest/extract.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { buildStoredZip, buildTar, hasCommand, runIn, writeArchiveTree, type ArchiveTree } from '../support/ingest-archives.ts';
import { masterIso, xorrisoMissing } from '../support/iso-fixtures.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-extract-'));
after(() => rm(root, { recursive: true, force: true }));
let counter = 0;

const TREE: ArchiveTree = {
  'casper/vmlinuz': 'kernel bytes',
  'casper/initrd': 'initrd bytes',
  'casper/filesystem.squashfs': 'root filesystem',
  'casper/filesystem.size': '123',
  'boot/grub/grub.cfg': 'menuentry',
  'README.diskdefines': 'readme',
};
const PLAN: ExtractPlan = { archiveName: 'test-archive', extract: ['casper/vmlinuz', 'casper/initrd', 'casper/filesystem.*'], renames: {}, required: ['casper/vmlinuz', 'casper/initrd'] };
const EXPECTED = ['casper/filesystem.size', 'casper/filesystem.squashfs', 'casper/initrd', 'casper/vmlinuz'];

async function extractFile(path: string, plan: ExtractPlan = PLAN): Promise<{ dir: string; files: Array<{ path: string; size: number; sha256: string }>; type: string; warnings: string[] }> {
  const file = await openForReading(path);
  const dir = join(root, `out-${++counter}`);
  await mkdir(dir);
  const warnings: string[] = [];
  try {
    const reader = await openArchive({ name: plan.archiveName, random: file, stream: () => createReadStream(path) });
    const result = await extractArchive(reader, dir, plan, (w) => warnings.push(w));
    return { dir, files: result.files, type: reader.type, warnings };
  } finally {
    await file.close();
  }
}

const failure = (promise: Promise<unknown>): Promise<IngestError> => rejectionOf(promise, IngestError);

async function packed(tool: string, args: (out: string) => string[], tree: ArchiveTree = TREE): Promise<string> {
  const src = join(root, `src-${++counter}`);
  await writeArchiveTree(src, tree);
  // No telling extension: the type must come from the content.
  const out = join(root, `archive-${counter}.bin`);
  await runIn(src, tool, args(out));
  return out;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

async function assertExtracted(result: Awaited<ReturnType<typeof extractFile>>): Promise<void> {
  assert.deepEqual(result.files.map((f) => f.path), EXPECTED);
  for (const file of result.files) {
    const content = TREE[file.path] as string;
    assert.equal(await readFile(join(result.dir, file.path), 'utf8'), content);
    assert.deepEqual({ size: file.size, sha256: file.sha256 }, { size: Buffer.byteLength(content), sha256: sha256(content) }, file.path);
  }
  assert.deepEqual((await readdir(result.dir)).sort(), ['casper'], 'only what the patterns and boot files name');
}

describe('extraction by archive type (detected by content, whatever the name)', () => {
  const formats: Array<[string, string, string[] | ((out: string) => string[]), string]> = [
    ['zip', 'zip', (out) => ['-q', '-r', out, '.'], 'zip'],
    ['tar', 'tar', (out) => ['-cf', out, '.'], 'tar'],
    ['tar.gz', 'tar', (out) => ['-czf', out, '.'], 'tar.gz'],
    ['tar.zst', 'tar', (out) => ['--zstd', '-cf', out, '.'], 'tar.zst'],
    ['tar.xz', 'tar', (out) => ['-cJf', out, '.'], 'tar.xz'],
  ];
  for (const [label, tool, args, type] of formats) {
    const needs = label === 'tar.zst' ? 'zstd' : label === 'tar.xz' ? 'xz' : tool;
    test(label, async (t) => {
      const skip = skipOrFail(`ingest-extract-${label}`, (await hasCommand(tool)) && (await hasCommand(needs)) ? undefined : `the ${needs} command is absent (Debian package: ${needs === 'xz' ? 'xz-utils' : needs})`);
      if (skip) return t.skip(skip);
      const result = await extractFile(await packed(tool, args as (out: string) => string[]));
      assert.equal(result.type, type);
      await assertExtracted(result);
    });
  }

  test('ISO 9660 made by xorriso (Rock Ridge)', async (t) => {
    const skip = skipOrFail('ingest-extract-iso', await xorrisoMissing());
    if (skip) return t.skip(skip);
    const src = join(root, `iso-src-${++counter}`);
    await writeArchiveTree(src, TREE);
    const iso = join(root, `image-${counter}.iso`);
    await masterIso(src, iso, ['-rockridge', 'on']);
    const result = await extractFile(iso);
    assert.equal(result.type, 'iso9660');
    await assertExtracted(result);
  });

  test('a gzipped file that is not a tarball is one file, installed compressed', async () => {
    const path = join(root, 'initrd.gz');
    const compressed = gzipSync('initrd contents');
    await writeFile(path, compressed);
    const result = await extractFile(path, { archiveName: 'initrd.gz', extract: ['initrd.gz'], renames: {}, required: ['initrd.gz'] });
    assert.equal(result.type, 'single');
    assert.deepEqual(await readFile(join(result.dir, 'initrd.gz')), compressed);
  });

  test('a single file named like the boot file is installed under that name; otherwise the error names it', async () => {
    const path = join(root, 'vmlinuz');
    await writeFile(path, 'MZ kernel');
    const ok = await extractFile(path, { archiveName: 'vmlinuz', extract: ['vmlinuz'], renames: {}, required: ['vmlinuz'] });
    assert.deepEqual(ok.files.map((f) => f.path), ['vmlinuz']);
    const error = await failure(extractFile(path, { archiveName: 'vmlinuz', extract: ['linux'], renames: {}, required: ['linux'] }));
    assert.equal(error.code, IngestErrorCode.MissingFiles);
    assert.equal(error.message, 'vmlinuz is a single file, not an archive, so it is installed under its own name; use vmlinuz in boot instead of linux');
  });
});

describe('archives that cannot be read', () => {
  test('xz without the xz command, and bzip2, are one sentence with the fix', async (t) => {
    const skip = skipOrFail('ingest-extract-xz', (await hasCommand('xz')) ? undefined : 'the xz command is absent (Debian package: xz-utils)');
    if (skip) return t.skip(skip);
    const path = await packed('tar', (out) => ['-cJf', out, '.']);
    const file = await openForReading(path);
    try {
      const error = await failure(openArchive({ name: 'live.tar.xz', random: file, stream: () => createReadStream(path) }, { xz: join(root, 'no-such-xz') }));
      assert.equal(error.code, IngestErrorCode.MissingTool);
      assert.equal(error.message, 'live.tar.xz is xz-compressed and the xz command is not installed; install it (apt-get install xz-utils) and run ingest again');
    } finally {
      await file.close();
    }
    const bzip = join(root, 'x.tar.bz2');
    await writeFile(bzip, 'BZh91AY&SY');
    const error = await failure(extractFile(bzip));
    assert.equal(error.code, IngestErrorCode.BadArchive);
    assert.match(error.message, /^test-archive is bzip2-compressed, which ingest does not read; use the distribution's/);
  });

  test('a truncated tar.gz is a BadArchive error naming the archive', async () => {
    const path = join(root, `cut-${++counter}.tgz`);
    const whole = gzipSync(await buildTar([{ name: 'casper/vmlinuz', content: 'k'.repeat(100_000) }, { name: 'casper/initrd', content: 'i' }]));
    await writeFile(path, whole.subarray(0, 200));
    const error = await failure(extractFile(path));
    assert.equal(error.code, IngestErrorCode.BadArchive);
    assert.match(error.message, /^test-archive cannot be read as tar\.gz \(.+\); check that the source is the right, complete file$/);
  });
});

describe('hostile archives are refused before anything is written', () => {
  const hostileTars: Array<[string, Parameters<typeof buildTar>[0]]> = [
    ['a name that climbs out', [{ name: 'casper/vmlinuz', content: 'k' }, { name: '../../escaped', content: 'x' }]],
    ['an absolute name', [{ name: '/tmp/escaped', content: 'x' }]],
    ['a backslash name', [{ name: '..\\..\\escaped', content: 'x' }]],
    ['a symlink to outside', [{ name: 'casper/vmlinuz', symlink: '/etc/passwd' }]],
    ['a symlink that climbs out', [{ name: 'casper/vmlinuz', symlink: '../../../etc/passwd' }]],
  ];
  for (const [label, entries] of hostileTars) {
    test(`tar with ${label}`, async () => {
      const path = join(root, `hostile-${++counter}.tar`);
      await writeFile(path, await buildTar(entries));
      const error = await failure(extractFile(path));
      assert.equal(error.code, IngestErrorCode.HostileEntry);
      assert.match(error.message, /^test-archive has (an entry named .* that would leave the image folder|a link .* that (climbs above|points to an absolute path, outside) the image folder).*; nothing was installed/);
      assert.deepEqual(await readdir(root).then((names) => names.filter((n) => n === 'escaped')), []);
    });
  }

  for (const [label, entries] of [
    ['a name that climbs out', [{ name: '../escaped', content: 'x' }]],
    ['a backslash name', [{ name: 'casper\\..\\..\\escaped', content: 'x' }]],
    ['a symlink to outside', [{ name: 'casper/vmlinuz', content: '/etc/passwd', symlink: true }]],
  ] as const) {
    test(`zip with ${label}`, async () => {
      const path = join(root, `hostile-${++counter}.zip`);
      await writeFile(path, buildStoredZip([...entries]));
      const error = await failure(extractFile(path));
      assert.equal(error.code, IngestErrorCode.HostileEntry, error.message);
    });
  }

  test('an entry named like the manifest is left out with a warning, so it can neither block nor forge the real one', async () => {
    const path = join(root, `manifest-${++counter}.tar`);
    await writeFile(path, await buildTar([{ name: '.manifest.json', content: '{"forged": true}' }, { name: 'casper/vmlinuz', content: 'k' }, { name: 'casper/initrd', content: 'i' }]));
    const result = await extractFile(path, { ...PLAN, extract: ['**'] });
    assert.deepEqual(await readdir(result.dir), ['casper']);
    assert.deepEqual(result.warnings, ['test-archive: left out its .manifest.json, the name of bootstation\'s own manifest']);
  });

  test('a symlink that stays inside is kept as a link', async () => {
    const path = join(root, `links-${++counter}.tar`);
    await writeFile(path, await buildTar([
      { name: 'casper/vmlinuz-6.1', content: 'kernel' },
      { name: 'casper/vmlinuz', symlink: 'vmlinuz-6.1' },
      { name: 'casper/initrd', content: 'initrd' },
      { name: 'casper/initrd.hard', hardlink: 'casper/initrd' },
    ]));
    const result = await extractFile(path, { ...PLAN, extract: ['casper/*'] });
    assert.equal(await readlink(join(result.dir, 'casper/vmlinuz')), 'vmlinuz-6.1');
    assert.equal((await lstat(join(result.dir, 'casper/initrd.hard'))).isFile(), true);
    assert.equal(await readFile(join(result.dir, 'casper/initrd.hard'), 'utf8'), 'initrd');
  });
});

describe('the cap on extracted bytes', () => {
  test('a file that writes more than it declares is stopped once the bytes written pass the cap', async () => {
    // No real format lets an entry outgrow its declared size (tar-stream, yauzl and the ISO reader check);
    // the count of written bytes is what holds if one ever did.
    const chunk = Buffer.alloc(64 * 1024);
    const reader: ArchiveReader = {
      type: 'tar',
      async forEachEntry(visit) {
        await visit({ name: 'casper/vmlinuz', kind: 'file', size: 1 }, () => Readable.from((function* () {
          for (let i = 0; i < 64; i++) yield chunk;
        })()));
      },
    };
    const dir = join(root, `liar-${++counter}`);
    await mkdir(dir);
    const error = await failure(extractArchive(reader, dir, { ...PLAN, maxExtractedBytes: 1024 * 1024 }, () => {}));
    assert.equal(error.code, IngestErrorCode.TooLarge);
    assert.match(error.message, /^test-archive wrote 1\.06 MiB, more than its files declare, over the 1\.00 MiB cap of source\.max_extracted_size; nothing was installed/);
    const written = await stat(join(dir, 'casper/vmlinuz')).then((s) => s.size, () => 0);
    assert.ok(written <= 1024 * 1024, `${written} bytes reached the disk`);
  });
});

describe('renames and missing files', () => {
  test('a versioned kernel is installed under its stable name; the target wins when the archive has it', async () => {
    const path = join(root, `renames-${++counter}.tar`);
    await writeFile(path, await buildTar([
      { name: 'live/vmlinuz-6.1.0-18-amd64', content: 'kernel' },
      { name: 'live/initrd.img-6.1.0-18-amd64', content: 'initrd' },
      { name: 'live/initrd.img', content: 'stable initrd' },
      { name: 'live/filesystem.squashfs', content: 'root' },
    ]));
    const result = await extractFile(path, {
      archiveName: 'live.tar',
      extract: ['live/vmlinuz', 'live/initrd.img', 'live/filesystem.squashfs'],
      renames: { 'live/vmlinuz': 'live/vmlinuz-*', 'live/initrd.img': 'live/initrd.img-*' },
      required: ['live/vmlinuz', 'live/initrd.img'],
    });
    assert.deepEqual(result.files.map((f) => f.path), ['live/filesystem.squashfs', 'live/initrd.img', 'live/vmlinuz']);
    assert.equal(await readFile(join(result.dir, 'live/vmlinuz'), 'utf8'), 'kernel');
    assert.equal(await readFile(join(result.dir, 'live/initrd.img'), 'utf8'), 'stable initrd');
    assert.deepEqual((await readdir(join(result.dir, 'live'))).sort(), ['filesystem.squashfs', 'initrd.img', 'vmlinuz'], 'the versioned copies are not installed');
  });

  test('two candidates for one rename are an error naming both', async () => {
    const path = join(root, `renames-${++counter}.tar`);
    await writeFile(path, await buildTar([{ name: 'vmlinuz-1', content: 'a' }, { name: 'vmlinuz-2', content: 'b' }]));
    const error = await failure(extractFile(path, { archiveName: 'two.tar', extract: ['vmlinuz'], renames: { vmlinuz: 'vmlinuz-*' }, required: ['vmlinuz'] }));
    assert.equal(error.code, IngestErrorCode.AmbiguousRename);
    assert.match(error.message, /vmlinuz-1, vmlinuz-2/);
  });

  test('missing boot files are listed with similar names from the archive', async () => {
    const path = join(root, `missing-${++counter}.tar`);
    await writeFile(path, await buildTar([{ name: 'casper/vmlinuz', content: 'k' }, { name: 'casper/initrd.lz', content: 'i' }]));
    const error = await failure(extractFile(path, { archiveName: 'ubuntu.tar', extract: [], renames: {}, required: ['live/vmlinuz', 'casper/initrd', 'casper/vmlinuz'] }));
    assert.equal(error.code, IngestErrorCode.MissingFiles);
    assert.equal(
      error.message,
      'ubuntu.tar lacks live/vmlinuz (similar: casper/vmlinuz), casper/initrd (similar: casper/initrd.lz); correct boot.kernel, boot.initrd or the recipe in images.yaml, or use the right archive',
    );
  });

  test('large files report their progress while they are written', async () => {
    const path = join(root, `progress-${++counter}.tar`);
    const big = 'x'.repeat(3 * 1024 * 1024);
    await writeFile(path, await buildTar([{ name: 'casper/vmlinuz', content: big }, { name: 'casper/initrd', content: 'i' }]));
    const file = await openForReading(path);
    const seen: Array<{ received: number; total: number | undefined }> = [];
    let finished = 0;
    try {
      const reader = await openArchive({ name: 'p.tar', random: file, stream: () => createReadStream(path) });
      const dir = join(root, `out-${++counter}`);
      await mkdir(dir);
      await extractArchive(reader, dir, PLAN, () => {}, { update: (s) => void seen.push({ received: s.received, total: s.total }), done: () => void finished++ });
    } finally {
      await file.close();
    }
    const kernel = seen.filter((s) => s.total === big.length);
    assert.ok(kernel.length > 1, 'several updates while the kernel is written');
    assert.equal(kernel.at(-1)?.received, big.length);
    assert.equal(finished, 2, 'done once per file');
  });

  test('an extract pattern that matches nothing is a warning, not an error', async () => {
    const path = join(root, `warn-${++counter}.tar`);
    await writeFile(path, await buildTar([{ name: 'casper/vmlinuz', content: 'k' }, { name: 'casper/initrd', content: 'i' }]));
    const result = await extractFile(path, { ...PLAN, extract: [...PLAN.extract, 'md5sum.txt'] });
    assert.ok(result.warnings.includes('extract pattern md5sum.txt matches nothing in test-archive'), result.warnings.join('\n'));
  });
});
