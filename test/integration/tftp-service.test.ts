import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodeTftpPacket, TftpOpcode } from '../../src/tftp/codec.ts';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { captureLog } from '../support/log-capture.ts';
import { openTestSocket, tempFileSource, TftpErrorReply, tftpGet, waitFor } from '../support/tftp-test-client.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const ipxeEfi = randomBytes(300_000);
const exactBlocks = randomBytes(512 * 8);
const rollover = randomBytes(8 * 70_000);

describe('TFTP service on 127.0.0.1', () => {
  let service: TftpService;
  let files: Awaited<ReturnType<typeof tempFileSource>>;
  const { log, lines } = captureLog();
  const endLines = (file: string) => lines.filter((line) => line.file === file && typeof line.outcome === 'string');

  before(async () => {
    files = await tempFileSource({ 'ipxe.efi': ipxeEfi, 'exact.bin': exactBlocks, 'rollover.bin': rollover, 'empty.bin': new Uint8Array(0) });
    service = await createTftpService({ address: '127.0.0.1', port: 0, files: files.source, log, retransmitTimeoutMs: 200 });
  });
  after(async () => {
    await service.close();
    await files.cleanup();
  });

  it('serves a file in RFC 1350 lock-step when the client asks for no options', async () => {
    const result = await tftpGet({ port: service.port, file: 'ipxe.efi' });
    assert.equal(sha256(result.data), sha256(ipxeEfi));
    assert.equal(result.optionAck, undefined, 'no options asked, so no OACK');
    assert.notEqual(result.serverPort, service.port, 'each transfer gets its own port (RFC 1350 TID)');
    await waitFor(() => service.activeTransfers() === 0, 'the transfer to be freed');
    const [end] = endLines('ipxe.efi');
    assert.equal(end?.outcome, 'completed');
    assert.equal(end?.blksize, 512);
    assert.equal(end?.bytes, ipxeEfi.length);
  });

  it('negotiates what EDK2 asks (tsize, blksize 1468, windowsize 4) and delivers the same bytes', async () => {
    const options = [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }, { name: 'windowsize', value: '4' }];
    const result = await tftpGet({ port: service.port, file: 'ipxe.efi', options });
    assert.deepEqual(result.optionAck, [{ name: 'tsize', value: String(ipxeEfi.length) }, { name: 'blksize', value: '1468' }, { name: 'windowsize', value: '4' }]);
    assert.equal(sha256(result.data), sha256(ipxeEfi));
  });

  it('ends a file of whole blocks with an empty DATA, and serves an empty file', async () => {
    assert.equal(sha256((await tftpGet({ port: service.port, file: 'exact.bin' })).data), sha256(exactBlocks));
    assert.equal((await tftpGet({ port: service.port, file: 'empty.bin', options: [{ name: 'tsize', value: '0' }] })).data.length, 0);
  });

  it('rolls block numbers over past 65535 (blksize 8, 70000 blocks)', async () => {
    const result = await tftpGet({ port: service.port, file: 'rollover.bin', options: [{ name: 'blksize', value: '8' }, { name: 'windowsize', value: '16' }] });
    assert.equal(sha256(result.data), sha256(rollover));
  });

  it('logs the UEFI tsize probe (ERROR 8 after the OACK) at debug, not as a failure, and frees it', async () => {
    const before = lines.length;
    const result = await tftpGet({ port: service.port, file: 'ipxe.efi', options: [{ name: 'tsize', value: '0' }], abortAfterOptionAck: true });
    assert.deepEqual(result.optionAck, [{ name: 'tsize', value: String(ipxeEfi.length) }]);
    await waitFor(() => service.activeTransfers() === 0, 'the probe to be freed');
    const probe = lines.slice(before).find((line) => line.outcome === 'options-declined');
    assert.ok(probe, 'one end-of-transfer line for the probe');
    assert.equal(probe.level, 20, 'debug level');
  });

  it('answers an unknown file with ERROR 1 at once (iPXE 2.0 EFI asks for autoexec.ipxe)', async () => {
    await assert.rejects(tftpGet({ port: service.port, file: 'autoexec.ipxe', retries: 0, timeoutMs: 2000 }), (error: unknown) => error instanceof TftpErrorReply && error.code === 1);
    assert.equal(service.activeTransfers(), 0);
  });

  it('refuses write requests with ERROR 2 "Access violation"', async () => {
    const socket = await openTestSocket();
    try {
      socket.send(encodeTftpPacket({ opcode: TftpOpcode.WriteRequest, filename: 'x', mode: 'octet', options: [] }), service.port);
      const reply = await socket.receive(2000);
      assert.deepEqual(reply?.packet, { opcode: TftpOpcode.Error, code: 2, message: 'Access violation' });
    } finally {
      await socket.close();
    }
  });

  it('hands the file source a path with backslashes turned into slashes and no leading slash', async () => {
    files.requested.length = 0;
    await assert.rejects(tftpGet({ port: service.port, file: '\\boot\\x86\\wdsnbp.com', retries: 0 }), TftpErrorReply);
    await tftpGet({ port: service.port, file: '/ipxe.efi', options: [{ name: 'blksize', value: '1468' }] });
    assert.deepEqual(files.requested, ['boot/x86/wdsnbp.com', 'ipxe.efi']);
  });

  it('answers a packet from a wrong transfer ID with ERROR 5 and finishes the transfer undisturbed', async () => {
    const client = await openTestSocket();
    const stranger = await openTestSocket();
    try {
      client.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'exact.bin', mode: 'octet', options: [] }), service.port);
      const first = await client.receive(2000);
      assert.equal(first?.packet.opcode, TftpOpcode.Data);
      const transferPort = first.port;
      stranger.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 1 }), transferPort);
      const rebuff = await stranger.receive(2000);
      assert.deepEqual(rebuff?.packet, { opcode: TftpOpcode.Error, code: 5, message: 'Unknown transfer ID' });
      const received: Uint8Array[] = [first.packet.opcode === TftpOpcode.Data ? Uint8Array.from(first.packet.data) : new Uint8Array()];
      for (let block = 1; ; block++) {
        client.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block }), transferPort);
        if ((received.at(-1)?.length ?? 0) < 512) break;
        const next = await client.receive(2000);
        assert.ok(next?.packet.opcode === TftpOpcode.Data && next.packet.block === block + 1, `DATA ${block + 1} after ACK ${block}`);
        received.push(Uint8Array.from(next.packet.data));
      }
      assert.equal(sha256(Buffer.concat(received)), sha256(exactBlocks));
    } finally {
      await client.close();
      await stranger.close();
    }
  });

  it('never resends DATA on a duplicate ACK (Sorcerer\'s Apprentice)', async () => {
    const client = await openTestSocket();
    try {
      client.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'exact.bin', mode: 'octet', options: [] }), service.port);
      const first = await client.receive(2000);
      assert.ok(first);
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 1 }), first.port);
      const second = await client.receive(2000);
      assert.ok(second?.packet.opcode === TftpOpcode.Data && second.packet.block === 2);
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 1 }), first.port);
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 1 }), first.port);
      // Within the 200 ms retransmit interval only nothing may arrive; the retransmit after it is DATA 2 once.
      const next = await client.receive(100);
      assert.equal(next, undefined, `a duplicate ACK made the server send ${JSON.stringify(next?.packet)}`);
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Error, code: 0, message: 'done' }), first.port);
    } finally {
      await client.close();
    }
  });
});

describe('TFTP service limits and cleanup', () => {
  it('retransmits with a bounded number of tries, then frees the transfer and logs a timeout', async () => {
    const files = await tempFileSource({ 'a.bin': randomBytes(2000) });
    const { log, lines } = captureLog();
    const service = await createTftpService({ address: '127.0.0.1', port: 0, files: files.source, log, retransmitTimeoutMs: 20, maxRetries: 2 });
    const client = await openTestSocket();
    try {
      client.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'a.bin', mode: 'octet', options: [] }), service.port);
      const seen: string[] = [];
      for (;;) {
        const reply = await client.receive(1000);
        if (reply === undefined) break;
        seen.push(reply.packet.opcode === TftpOpcode.Data ? `DATA ${reply.packet.block}` : reply.packet.opcode === TftpOpcode.Error ? `ERROR ${reply.packet.code}` : 'other');
      }
      assert.deepEqual(seen, ['DATA 1', 'DATA 1', 'DATA 1', 'ERROR 0']);
      assert.equal(service.activeTransfers(), 0);
      const end = lines.find((line) => line.outcome === 'timed-out');
      assert.equal(end?.level, 40, 'a timeout is a warning');
    } finally {
      await client.close();
      await service.close();
      await files.cleanup();
    }
  });

  it('refuses a request beyond maxTransfers with ERROR 0 "Server busy", and accepts again once one ends', async () => {
    const files = await tempFileSource({ 'a.bin': randomBytes(5000) });
    const { log } = captureLog();
    const service = await createTftpService({ address: '127.0.0.1', port: 0, files: files.source, log, maxTransfers: 2, retransmitTimeoutMs: 5000 });
    const clients = await Promise.all([openTestSocket(), openTestSocket(), openTestSocket()]);
    const rrq = encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'a.bin', mode: 'octet', options: [] });
    try {
      const [first, second, third] = clients as [typeof clients[0], typeof clients[0], typeof clients[0]];
      first.send(rrq, service.port);
      const firstData = await first.receive(2000);
      second.send(rrq, service.port);
      assert.equal((await second.receive(2000))?.packet.opcode, TftpOpcode.Data);
      assert.equal(service.activeTransfers(), 2);
      third.send(rrq, service.port);
      assert.deepEqual((await third.receive(2000))?.packet, { opcode: TftpOpcode.Error, code: 0, message: 'Server busy, try again later' });
      assert.equal(service.activeTransfers(), 2);
      assert.ok(firstData);
      first.send(encodeTftpPacket({ opcode: TftpOpcode.Error, code: 0, message: 'user cancelled' }), firstData.port);
      await waitFor(() => service.activeTransfers() === 1, 'the cancelled transfer to be freed');
      third.send(rrq, service.port);
      assert.equal((await third.receive(2000))?.packet.opcode, TftpOpcode.Data);
    } finally {
      for (const client of clients) await client.close();
      await service.close();
      assert.equal(service.activeTransfers(), 0, 'close() frees every transfer');
      await files.cleanup();
    }
  });

  it('closes the file of every transfer, whichever way it ends', async () => {
    const files = await tempFileSource({ 'a.bin': randomBytes(3000) });
    let open = 0;
    const counting = async (path: string, client: { address: string; port: number }) => {
      const file = await files.source(path, client);
      if (file === undefined) return undefined;
      open += 1;
      return { ...file, close: async () => { open -= 1; await file.close(); } };
    };
    const { log } = captureLog();
    const service = await createTftpService({ address: '127.0.0.1', port: 0, files: counting, log, retransmitTimeoutMs: 20, maxRetries: 1 });
    try {
      await tftpGet({ port: service.port, file: 'a.bin' });
      await tftpGet({ port: service.port, file: 'a.bin', options: [{ name: 'tsize', value: '0' }], abortAfterOptionAck: true });
      const silent = await openTestSocket();
      silent.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'a.bin', mode: 'octet', options: [] }), service.port);
      await waitFor(() => service.activeTransfers() === 0 && open === 0, 'every file to be closed');
      await silent.close();
    } finally {
      await service.close();
      await files.cleanup();
    }
  });

  it('answers ERROR 0 when the file source throws, and ERROR 2 for an over-long name, holding no state', async () => {
    const { log, lines } = captureLog();
    const service = await createTftpService({ address: '127.0.0.1', port: 0, files: () => Promise.reject(new Error('disk on fire')), log });
    try {
      await assert.rejects(tftpGet({ port: service.port, file: 'a.bin', retries: 0 }), (error: unknown) => error instanceof TftpErrorReply && error.code === 0);
      assert.ok(lines.some((line) => line.msg === 'TFTP file source failed' && line.level === 50), 'the failure is logged as an error');
      await assert.rejects(tftpGet({ port: service.port, file: 'x'.repeat(300), retries: 0 }), (error: unknown) => error instanceof TftpErrorReply && error.code === 2);
      assert.equal(service.activeTransfers(), 0);
    } finally {
      await service.close();
    }
  });

  it('closes a file that arrives after close(), and holds nothing afterwards', async () => {
    let resolveFile: (file: { size: number; read(): Promise<Uint8Array>; close(): Promise<void> }) => void = () => {};
    let closedFiles = 0;
    const pending = new Promise<Parameters<typeof resolveFile>[0]>((resolve) => (resolveFile = resolve));
    const { log } = captureLog();
    const service = await createTftpService({ address: '127.0.0.1', port: 0, files: () => pending, log });
    const client = await openTestSocket();
    try {
      client.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'slow.bin', mode: 'octet', options: [] }), service.port);
      await waitFor(() => service.activeTransfers() === 1, 'the request to be taken');
      await service.close();
      assert.equal(service.activeTransfers(), 0);
      resolveFile({ size: 1, read: async () => new Uint8Array(1), close: async () => void (closedFiles += 1) });
      await waitFor(() => closedFiles === 1, 'the late file to be closed');
      assert.equal(await client.receive(100), undefined, 'a closed service sends nothing');
    } finally {
      await client.close();
    }
  });

  it('holds packets that arrive during a slow file read and handles them after it, in order (a client ERROR then ends the transfer)', async () => {
    let releaseRead: () => void = () => {};
    const readGate = new Promise<void>((resolve) => (releaseRead = resolve));
    let readsStarted = 0;
    let closedFiles = 0;
    const bytes = randomBytes(3000);
    const file = {
      size: bytes.length,
      read: async (position: number, length: number) => {
        readsStarted += 1;
        await readGate;
        return bytes.subarray(position, position + length);
      },
      close: async () => void (closedFiles += 1),
    };
    const { log, lines } = captureLog();
    // A long retransmit interval: only the held ERROR, not a timeout, can end the transfer within the test.
    const service = await createTftpService({ address: '127.0.0.1', port: 0, files: async () => file, log, retransmitTimeoutMs: 10_000 });
    const client = await openTestSocket();
    try {
      client.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'slow.bin', mode: 'octet', options: [{ name: 'tsize', value: '0' }] }), service.port);
      const optionAck = await client.receive(2000);
      assert.equal(optionAck?.packet.opcode, TftpOpcode.OptionAck);
      // ACK 0 asks for DATA 1, whose read now waits; a repeated ACK 0 and an ERROR arrive during it.
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 0 }), optionAck.port);
      await waitFor(() => readsStarted === 1, 'the file read to start');
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 0 }), optionAck.port);
      client.send(encodeTftpPacket({ opcode: TftpOpcode.Error, code: 0, message: 'cancelled by the user' }), optionAck.port);
      assert.equal(await client.receive(200), undefined, 'nothing is sent while the read is under way');
      assert.equal(service.activeTransfers(), 1, 'the ERROR waits behind the read');
      releaseRead();
      await waitFor(() => service.activeTransfers() === 0 && closedFiles === 1, 'the held ERROR to end the transfer and close its file');
      // DATA 1 is handed to the socket first, but the socket closes in the same turn, so it may never leave; the
      // repeated ACK 0 must not have been answered with a second copy, and nothing follows the ERROR.
      const reply = await client.receive(200);
      if (reply !== undefined) {
        assert.ok(reply.packet.opcode === TftpOpcode.Data && reply.packet.block === 1, `only DATA 1 may follow the read, got opcode ${reply.packet.opcode}`);
        assert.equal(await client.receive(200), undefined, 'DATA 1 is sent once');
      }
      const end = lines.find((line) => typeof line.outcome === 'string');
      assert.equal(end?.outcome, 'client-error');
      assert.equal(end?.clientMessage, 'cancelled by the user');
      assert.equal(readsStarted, 1);
    } finally {
      await client.close();
      await service.close();
    }
  });

  it('sends a transfer from transferAddress while listening on 0.0.0.0 (replies come from the next-server address)', async () => {
    const files = await tempFileSource({ 'a.bin': randomBytes(100) });
    const { log } = captureLog();
    const service = await createTftpService({ address: '0.0.0.0', transferAddress: '127.0.0.2', port: 0, files: files.source, log });
    const client = await openTestSocket();
    try {
      client.send(encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: 'a.bin', mode: 'octet', options: [] }), service.port);
      const reply = await client.receive(2000);
      assert.equal(reply?.packet.opcode, TftpOpcode.Data);
      assert.equal(reply.address, '127.0.0.2');
    } finally {
      await client.close();
      await service.close();
      await files.cleanup();
    }
  });
});
