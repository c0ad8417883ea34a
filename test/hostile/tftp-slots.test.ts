// Issue 14 item 4: 64 read requests with option "timeout 255" that are never acknowledged held all 64 TFTP slots
// for 7,905 s each ((1+2+4+8+8+8) × 255 s of backoff), and one address could take every slot. A transfer that
// makes no progress must be dropped within the idle bound, and one address must not hold more than its cap.
// Real sockets on loopback: 127.0.0.2–127.0.0.9 and 127.0.0.11 play attacking machines, 127.0.0.10 an honest PC;
// the server is 127.0.0.1 (its own address is exempt from the per-address cap: packets from it come from this host).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodeTftpPacket, TftpOpcode, type TftpPacket } from '../../src/tftp/codec.ts';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { captureLog } from '../support/log-capture.ts';
import { openTestSocket, tempFileSource, tftpGet, waitFor, type TestSocket } from '../support/tftp-test-client.ts';

// Small configured bounds keep the test short; the defaults (30 s idle, 8 per address) obey the same code.
const IDLE_TIMEOUT_MS = 1500;
const PER_ADDRESS = 8;
const MAX_TRANSFERS = 64;
// Slack for a shared 2-core machine: timers fire late, and the last ERROR must leave before a slot is counted free.
const SLACK_MS = 1500;

const file = randomBytes(100_000);

/** Sends one RRQ for ipxe.efi with "timeout 255" from a fresh socket on `address` and returns the socket and the first answer. */
async function hostileRequest(port: number, address: string): Promise<{ socket: TestSocket; answer: TftpPacket | undefined }> {
  const socket = await openTestSocket(undefined, address);
  const options = [{ name: 'timeout', value: '255' }, { name: 'tsize', value: '0' }];
  socket.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'ipxe.efi', mode: 'octet', options }), port);
  const received = await socket.receive(3000);
  return { socket, answer: received?.packet };
}

describe('TFTP slots under never-acknowledged requests (issue 14 item 4)', () => {
  let service: TftpService;
  let files: Awaited<ReturnType<typeof tempFileSource>>;
  const sockets: TestSocket[] = [];
  const { log, lines } = captureLog();
  // The once-a-minute summary's timer, fired by hand.
  let fireSummary: (() => void) | undefined;
  const summaryTimer = (callback: () => void) => {
    fireSummary = callback;
    return () => (fireSummary = undefined);
  };

  before(async () => {
    files = await tempFileSource({ 'ipxe.efi': file });
    service = await createTftpService({
      address: '127.0.0.1',
      port: 0,
      files: files.source,
      log,
      maxTransfers: MAX_TRANSFERS,
      maxTransfersPerAddress: PER_ADDRESS,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      retransmitTimeoutMs: 200,
      summaryTimer,
    });
  });
  after(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    await service.close();
    await files.cleanup();
  });

  it(`frees all ${MAX_TRANSFERS} slots taken by "timeout 255" requests within the idle bound, and does not acknowledge 255`, async () => {
    const attackers = Array.from({ length: MAX_TRANSFERS / PER_ADDRESS }, (_, index) => `127.0.0.${index + 2}`);
    const requests = await Promise.all(attackers.flatMap((address) => Array.from({ length: PER_ADDRESS }, () => hostileRequest(service.port, address))));
    sockets.push(...requests.map((request) => request.socket));
    const filledAt = performance.now();
    for (const { answer } of requests) {
      assert.equal(answer?.opcode, TftpOpcode.OptionAck, 'every request within the caps gets its OACK');
      if (answer?.opcode === TftpOpcode.OptionAck) {
        assert.equal(answer.options.find((option) => option.name === 'timeout'), undefined, 'timeout 255 is not honoured, so RFC 2349 says leave it out of the OACK');
      }
    }
    assert.equal(service.activeTransfers(), MAX_TRANSFERS, 'the attack filled every slot');

    const busy = await hostileRequest(service.port, '127.0.0.10');
    sockets.push(busy.socket);
    assert.equal(busy.answer?.opcode, TftpOpcode.Error, 'a full server says busy');

    await waitFor(() => service.activeTransfers() === 0, 'the slots to be freed', IDLE_TIMEOUT_MS + SLACK_MS + 5000);
    const heldMs = performance.now() - filledAt;
    assert.ok(heldMs <= IDLE_TIMEOUT_MS + SLACK_MS, `slots were held ${Math.round(heldMs)} ms, over the ${IDLE_TIMEOUT_MS} ms idle bound (+${SLACK_MS} ms slack)`);

    const served = await tftpGet({ port: service.port, file: 'ipxe.efi', from: '127.0.0.10' });
    assert.equal(served.data.length, file.length, 'a freed slot serves the next client');
  });

  it(`lets one address hold at most ${PER_ADDRESS} transfers and still serves another address`, async () => {
    const requests = await Promise.all(Array.from({ length: 3 * PER_ADDRESS }, () => hostileRequest(service.port, '127.0.0.11')));
    sockets.push(...requests.map((request) => request.socket));
    const accepted = requests.filter((request) => request.answer?.opcode === TftpOpcode.OptionAck).length;
    const refused = requests.filter((request) => request.answer?.opcode === TftpOpcode.Error).length;
    assert.equal(accepted, PER_ADDRESS, `one address got ${accepted} transfers`);
    assert.equal(refused, 2 * PER_ADDRESS, 'the rest are refused at once with an ERROR');
    assert.equal(service.activeTransfers(), PER_ADDRESS);

    const served = await tftpGet({ port: service.port, file: 'ipxe.efi', from: '127.0.0.10', options: [{ name: 'blksize', value: '1468' }] });
    assert.equal(served.data.length, file.length, 'another address is served while the first is at its cap');
    await waitFor(() => service.activeTransfers() === 0, 'the capped address to be freed', IDLE_TIMEOUT_MS + SLACK_MS + 5000);
  });

  it("does not cap the server's own address, from which only this host can send (the bench's 64-client storm)", async () => {
    const requests = await Promise.all(Array.from({ length: PER_ADDRESS + 4 }, () => hostileRequest(service.port, '127.0.0.1')));
    sockets.push(...requests.map((request) => request.socket));
    assert.equal(requests.filter((request) => request.answer?.opcode === TftpOpcode.OptionAck).length, PER_ADDRESS + 4);
    await waitFor(() => service.activeTransfers() === 0, 'the local transfers to be freed', IDLE_TIMEOUT_MS + SLACK_MS + 5000);
  });

  it('logs refusals and transfer ends at debug and sums them up in one info line per interval', () => {
    const infoOrAbove = () => lines.filter((line) => (line.level as number) >= 30);
    const timeouts = infoOrAbove().filter((line) => line.outcome === 'timed-out');
    assert.equal(infoOrAbove().length, timeouts.length, 'before the summary only the timeouts (bounded by the slots) are above debug');
    assert.ok(fireSummary, 'something happened, so a summary is due');
    fireSummary();
    const [line, ...more] = infoOrAbove().filter((entry) => entry.counts !== undefined);
    assert.equal(more.length, 0);
    const counts = line?.counts as Record<string, number>;
    assert.equal(counts['over the per-address cap'], 2 * PER_ADDRESS);
    assert.equal(counts['completed'], 2);
    assert.equal(counts['timed-out'], MAX_TRANSFERS + PER_ADDRESS + PER_ADDRESS + 4);
    assert.match(String(line?.msg), /^TFTP in the last minute: .* for \d+ clients$/);
  });
});
