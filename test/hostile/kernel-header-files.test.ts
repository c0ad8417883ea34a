// Kernel files are hostile input: the menu's boot-file check reads each kernel's header, so a huge "kernel", a
// gzip bomb or a FIFO in the image folder must cost bounded memory and time. Bounds: 64 KiB read per file
// (KERNEL_HEADER_BYTES), at most 64 KiB plus one zlib chunk inflated, each file read once per identity.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createGzip, gzipSync } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkBootFiles, createKernelHeaderReader, readKernelHeader } from '../../src/boot/image-files.ts';
import { parseConfigText } from '../../src/config/parse.ts';

const MiB = 1024 ** 2;
const root = await mkdtemp(join(tmpdir(), 'bootstation-hostile-kernel-'));
after(() => rm(root, { recursive: true, force: true }));

/** Peak resident memory of this process so far, in bytes (it only grows). */
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

describe('hostile kernel files', () => {
  test('a 16 GiB sparse "kernel" costs one 64 KiB read: 50 reads at once in under 1 s', async () => {
    const path = join(root, 'huge');
    const handle = await open(path, 'w');
    await handle.truncate(16 * 1024 * MiB);
    await handle.close();
    const started = performance.now();
    const headers = await Promise.all(Array.from({ length: 50 }, () => readKernelHeader(path)));
    const elapsed = performance.now() - started;
    assert.ok(headers.every((header) => header.format === 'unknown'));
    assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms`);
  });

  test('a gzip bomb (256 MiB of zeros in 256 KiB) inflates at most 64 KiB: 50 reads at once add under 64 MiB of memory and take under 2 s', async () => {
    const path = join(root, 'bomb.gz');
    // Streamed in 1 MiB pieces, so that making it does not raise the peak memory the test measures.
    const zeros = Buffer.alloc(MiB);
    await pipeline(Readable.from((function* () { for (let i = 0; i < 256; i++) yield zeros; })()), createGzip({ level: 9 }), createWriteStream(path));
    assert.ok((await stat(path)).size < 512 * 1024, 'the bomb is small');
    const before = peakRss();
    const started = performance.now();
    // Inflated whole, the first 64 KiB of the file alone would give about 64 MiB each: 3.2 GiB for 50.
    const headers = await Promise.all(Array.from({ length: 50 }, () => readKernelHeader(path)));
    const elapsed = performance.now() - started;
    const grown = peakRss() - before;
    assert.ok(headers.every((header) => header.format === 'unknown'), 'zeros are no kernel');
    assert.ok(elapsed < 2000, `${elapsed.toFixed(0)} ms`);
    console.log(`gzip bomb: 50 reads in ${elapsed.toFixed(0)} ms, peak memory +${(grown / MiB).toFixed(1)} MiB`);
    assert.ok(grown < 64 * MiB, `peak memory grew by ${(grown / MiB).toFixed(1)} MiB`);
  });

  test('a gzipped arm64 Image header followed by megabytes of zeros is still read as arm64', async () => {
    const image = Buffer.alloc(4 * MiB);
    image.write('MZ', 0, 'latin1');
    image.writeUInt32LE(0x40, 0x3c);
    image.write('ARM\x64', 0x38, 'latin1');
    image.write('PE\0\0', 0x40, 'latin1');
    image.writeUInt16LE(0xaa64, 0x44);
    const path = join(root, 'Image.gz');
    await writeFile(path, gzipSync(image));
    assert.deepEqual(await readKernelHeader(path), { format: 'arm64-image', efi: { machine: 0xaa64, cpu: 'arm64' } });
  });

  test('gzip inside gzip, and a truncated gzip header, are unknown', async () => {
    const nested = join(root, 'nested.gz');
    await writeFile(nested, gzipSync(gzipSync(Buffer.alloc(MiB))));
    assert.deepEqual(await readKernelHeader(nested), { format: 'unknown' });
    const cut = join(root, 'cut.gz');
    await writeFile(cut, Buffer.from([0x1f, 0x8b, 8]));
    assert.deepEqual(await readKernelHeader(cut), { format: 'unknown' });
  });

  test('a FIFO named as the kernel is no file: reported missing, never opened (an open would wait for a writer)', async () => {
    const dir = await mkdtemp(join(root, 'fifo-'));
    await promisify(execFile)('mkfifo', [join(dir, 'vmlinuz')]);
    const config = parseConfigText(`images:\n  - id: a\n    source: {dir: ${dir}}\n    boot: {kernel: vmlinuz}\n`, 'images.yaml');
    const check = await checkBootFiles(config, createKernelHeaderReader());
    assert.deepEqual(check.missing, new Map([['a', ['vmlinuz']]]));
    assert.deepEqual(check.kernels, new Map());
  });

  test('the first check of 300 new kernels reads at most 4 files at once', async () => {
    let active = 0;
    let peak = 0;
    const reader = createKernelHeaderReader(async () => {
      peak = Math.max(peak, ++active);
      await new Promise((resolve) => setTimeout(resolve, 1));
      active--;
      return { format: 'unknown' };
    });
    const identity = { dev: 1n, ino: 1n, size: 1n, mtimeNs: 1n };
    const headers = await Promise.all(Array.from({ length: 300 }, (_, i) => reader(join(root, `kernel-${i}`), identity)));
    assert.equal(headers.length, 300);
    assert.equal(peak, 4);
    assert.equal(active, 0);
  });

  test('a file is read once per identity: the same (dev, ino, size, mtime) gets the cached answer, a new one a new read', async () => {
    const path = join(root, 'same');
    await writeFile(path, 'not a kernel');
    const reader = createKernelHeaderReader();
    const identity = await stat(path, { bigint: true });
    const first = reader(path, identity);
    assert.equal(reader(path, identity), first, 'cached');
    const changed = { dev: identity.dev, ino: identity.ino, size: identity.size, mtimeNs: identity.mtimeNs + 1n };
    assert.notEqual(reader(path, changed), first, 'changed');
    // Paths not asked for since the last prune are forgotten, so the cache holds only the current config's kernels.
    const again = reader(path, identity);
    reader.prune();
    assert.equal(reader(path, identity), again, 'kept: asked for since the last prune');
    reader.prune();
    reader.prune();
    assert.notEqual(reader(path, identity), again, 'forgotten: not asked for between two prunes');
  });
});
