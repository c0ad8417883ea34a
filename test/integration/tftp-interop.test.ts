// Interop with TFTP clients nobody here wrote: tftp-hpa, curl and atftp (Debian packages tftp-hpa, curl, atftp).
// A client that is not installed is skipped with the reason printed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { captureLog } from '../support/log-capture.ts';
import { tempFileSource, waitFor } from '../support/tftp-test-client.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const run = promisify(execFile);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
// Not a multiple of any block size used below, so every client sees a short last block.
const image = randomBytes(1_000_003);

/** Finds an executable on PATH, or undefined. */
async function which(binary: string): Promise<string | undefined> {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(directory, binary);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

describe('TFTP interop with third-party clients', () => {
  let service: TftpService;
  let files: Awaited<ReturnType<typeof tempFileSource>>;
  let output: string;
  const { log, lines } = captureLog();
  const clients: Record<string, string | undefined> = {};

  before(async () => {
    files = await tempFileSource({ 'ipxe.efi': image });
    service = await createTftpService({ address: '127.0.0.1', port: 0, files: files.source, log });
    output = await mkdtemp(join(tmpdir(), 'bootstation-tftp-interop-'));
    for (const binary of ['tftp', 'curl', 'atftp']) clients[binary] = await which(binary);
  });
  after(async () => {
    await service.close();
    await files.cleanup();
    await rm(output, { recursive: true, force: true });
  });

  /** Skips the test, printing why, when the client is not installed; otherwise returns its path. */
  function client(t: TestContext, binary: string, debianPackage: string): string | undefined {
    const path = clients[binary];
    if (path === undefined) {
      const reason = skipOrFail(`tftp-interop-${binary}`, `${binary} is not installed (Debian package ${debianPackage})`);
      console.log(`# skipped: ${reason}`);
      t.skip(reason);
    }
    return path;
  }

  /** Checks the downloaded copy and returns the server's end-of-transfer log line for it. */
  async function expectIdentical(file: string): Promise<Record<string, unknown>> {
    assert.equal(sha256(await readFile(file)), sha256(image), `${file} differs from the served file`);
    await waitFor(() => service.activeTransfers() === 0, 'the transfer to be freed');
    const end = lines.filter((line) => line.outcome === 'completed').at(-1);
    assert.ok(end, 'the server logged a completed transfer');
    return end;
  }

  it('tftp-hpa fetches a file without options (RFC 1350 lock-step)', async (t) => {
    const tftp = client(t, 'tftp', 'tftp-hpa');
    if (!tftp) return;
    const file = join(output, 'tftp-hpa.bin');
    await run(tftp, ['-m', 'binary', '127.0.0.1', String(service.port), '-c', 'get', 'ipxe.efi', file], { timeout: 30_000 });
    const end = await expectIdentical(file);
    assert.equal(end.blksize, 512);
  });

  it('tftp-hpa gets "file not found" at once for a missing file', async (t) => {
    const tftp = client(t, 'tftp', 'tftp-hpa');
    if (!tftp) return;
    const { stdout, stderr } = await run(tftp, ['-m', 'binary', '127.0.0.1', String(service.port), '-c', 'get', 'autoexec.ipxe', join(output, 'missing')], { timeout: 10_000 });
    assert.match(stdout + stderr, /Error code 1: File not found/);
  });

  it('curl fetches with tsize and blksize 1468', async (t) => {
    const curl = client(t, 'curl', 'curl');
    if (!curl) return;
    const file = join(output, 'curl.bin');
    await run(curl, ['-sS', '--tftp-blksize', '1468', '-o', file, `tftp://127.0.0.1:${service.port}/ipxe.efi`], { timeout: 30_000 });
    const end = await expectIdentical(file);
    assert.equal(end.blksize, 1468);
  });

  it('curl fetches without options', async (t) => {
    const curl = client(t, 'curl', 'curl');
    if (!curl) return;
    const file = join(output, 'curl-plain.bin');
    await run(curl, ['-sS', '--tftp-no-options', '-o', file, `tftp://127.0.0.1:${service.port}/ipxe.efi`], { timeout: 30_000 });
    const end = await expectIdentical(file);
    assert.equal(end.blksize, 512);
  });

  it('atftp fetches with blksize 1468, tsize and windowsize 4 (RFC 7440, as UEFI asks)', async (t) => {
    const atftp = client(t, 'atftp', 'atftp');
    if (!atftp) return;
    const file = join(output, 'atftp.bin');
    const options = ['--option', 'blksize 1468', '--option', 'tsize enable', '--option', 'windowsize 4'];
    await run(atftp, ['--get', '-r', 'ipxe.efi', '-l', file, ...options, '127.0.0.1', String(service.port)], { timeout: 30_000 });
    const end = await expectIdentical(file);
    assert.deepEqual([end.blksize, end.windowsize], [1468, 4]);
  });

  it('atftp fetches without options', async (t) => {
    const atftp = client(t, 'atftp', 'atftp');
    if (!atftp) return;
    const file = join(output, 'atftp-plain.bin');
    await run(atftp, ['--get', '-r', 'ipxe.efi', '-l', file, '127.0.0.1', String(service.port)], { timeout: 30_000 });
    await expectIdentical(file);
  });
});
