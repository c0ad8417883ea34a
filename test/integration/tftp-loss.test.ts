import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { captureLog } from '../support/log-capture.ts';
import { tempFileSource, tftpGet, waitFor } from '../support/tftp-test-client.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const image = randomBytes(200_000);

// 10 % of datagrams dropped in each direction, from a fixed seed: every run loses the same packets.
describe('TFTP service through 10 % packet loss in both directions', () => {
  let service: TftpService;
  let files: Awaited<ReturnType<typeof tempFileSource>>;
  const { log, lines } = captureLog();

  before(async () => {
    files = await tempFileSource({ 'image.bin': image });
    service = await createTftpService({ address: '127.0.0.1', port: 0, files: files.source, log, retransmitTimeoutMs: 30, maxRetries: 10 });
  });
  after(async () => {
    await service.close();
    await files.cleanup();
  });

  const cases = [
    { name: 'lock-step, 512-byte blocks', options: [], seed: 1 },
    { name: 'blksize 1468', options: [{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '0' }], seed: 2 },
    { name: 'windowsize 4 (what UEFI asks)', options: [{ name: 'blksize', value: '1468' }, { name: 'windowsize', value: '4' }], seed: 3 },
    { name: 'windowsize 16', options: [{ name: 'blksize', value: '1024' }, { name: 'windowsize', value: '16' }], seed: 4 },
  ];
  for (const { name, options, seed } of cases) {
    it(`completes ${name} with an identical SHA-256`, async () => {
      const result = await tftpGet({ port: service.port, file: 'image.bin', options, loss: { rate: 0.1, seed }, timeoutMs: 100, retries: 30, dallyMs: 600 });
      assert.equal(sha256(result.data), sha256(image));
      assert.ok(result.dropped > 10, `the lossy wrapper dropped only ${result.dropped} datagrams: the test would prove nothing`);
      await waitFor(() => service.activeTransfers() === 0, 'the transfer to be freed');
      const end = lines.filter((line) => typeof line.outcome === 'string').at(-1);
      assert.equal(end?.outcome, 'completed', 'the server saw the final ACK (the client dallies to answer resent DATA)');
      assert.ok(Number(end?.retransmissions) > 0, 'the server had to retransmit');
    });
  }
});
