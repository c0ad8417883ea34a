// The TFTP half of a real EDK2 UEFI PXE boot against dnsmasq (QEMU capture in test/fixtures/dhcp/): every packet
// decodes and re-encodes byte for byte, and the client's side replayed against our negotiation and state machine
// gets the answers UEFI needs (the tsize probe ends quietly; windowsize 4 is granted, which dnsmasq ignored).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeTftpPacket, encodeTftpPacket, TftpOpcode, type TftpPacket } from '../../src/tftp/codec.ts';
import { negotiateTftpOptions } from '../../src/tftp/negotiate.ts';
import { TftpReadTransfer } from '../../src/tftp/transfer.ts';
import { readPcapUdp } from '../support/pcap.ts';

const datagrams = readPcapUdp(readFileSync(new URL('../fixtures/dhcp/uefi-x64-edk2-pxe-then-ipxe.pcap', import.meta.url)));
const dhcpPorts = new Set([67, 68, 4011]);
const tftp = datagrams.filter((d) => !dhcpPorts.has(d.sourcePort) && !dhcpPorts.has(d.destinationPort));
const packets = tftp.map((d) => ({ frame: d.frame, fromClient: d.sourceAddress === '10.77.0.112', packet: decodeTftpPacket(d.payload) }));
const sizeInOack = 850528; // ipxe.efi as dnsmasq announced it in the capture
const limits = { maxBlockSize: 1468, maxWindowSize: 16 };

function summary(packet: TftpPacket): string {
  switch (packet.opcode) {
    case TftpOpcode.ReadRequest:
    case TftpOpcode.WriteRequest:
      return `RRQ ${packet.filename} ${packet.options.map((o) => `${o.name}=${o.value}`).join(' ')}`;
    case TftpOpcode.OptionAck:
      return `OACK ${packet.options.map((o) => `${o.name}=${o.value}`).join(' ')}`;
    case TftpOpcode.Data:
      return `DATA ${packet.block} ${packet.data.length}`;
    case TftpOpcode.Ack:
      return `ACK ${packet.block}`;
    case TftpOpcode.Error:
      return `ERROR ${packet.code} ${packet.message}`;
  }
}

describe('EDK2 UEFI PXE capture (TFTP)', () => {
  it('decodes every TFTP datagram into the expected sequence: tsize probe, ERROR 8, then the real download', () => {
    assert.deepEqual(packets.slice(0, 8).map(({ packet }) => summary(packet)), [
      'RRQ ipxe.efi tsize=0 blksize=1468 windowsize=4',
      'OACK blksize=1468 tsize=850528',
      'ERROR 8 User aborted the transfer',
      'RRQ ipxe.efi blksize=1468 windowsize=4',
      'OACK blksize=1468',
      'ACK 0',
      'DATA 1 1468',
      'ACK 1',
    ]);
    assert.equal(packets.length, 22);
  });

  it('re-encodes every captured TFTP datagram byte for byte', () => {
    for (const [index, { packet, frame }] of packets.entries()) {
      assert.deepEqual(Buffer.from(encodeTftpPacket(packet)), Buffer.from(tftp[index]?.payload ?? []), `frame ${frame}`);
    }
  });

  it('answers the probe with the size and grants windowsize 4, where dnsmasq left it out', () => {
    const probe = packets[0]?.packet;
    assert.ok(probe?.opcode === TftpOpcode.ReadRequest);
    const ours = negotiateTftpOptions(probe.options, sizeInOack, limits);
    assert.deepEqual(ours.acknowledged, [
      { name: 'tsize', value: '850528' },
      { name: 'blksize', value: '1468' },
      { name: 'windowsize', value: '4' },
    ]);
    // EDK2 refuses an OACK that grants more than it asked (Mtftp4RrqOackValid): never more blksize or windowsize.
    assert.ok(ours.parameters.blockSize <= 1468 && ours.parameters.windowSize <= 4);
  });

  it('ends the replayed probe as a declined negotiation, to be logged at debug', () => {
    const probe = packets[0]?.packet;
    const abort = packets[2]?.packet;
    assert.ok(probe?.opcode === TftpOpcode.ReadRequest && abort?.opcode === TftpOpcode.Error);
    const negotiation = negotiateTftpOptions(probe.options, sizeInOack, limits);
    const machine = new TftpReadTransfer({ fileSize: sizeInOack, ...negotiation.parameters, optionAck: negotiation.acknowledged, retransmitTimeoutMs: 1000, maxRetries: 5 });
    assert.equal(machine.handle({ type: 'start', now: 0 })[0]?.type, 'send-option-ack');
    const end = machine.handle({ type: 'error', code: abort.code, message: abort.message, now: 2 });
    assert.deepEqual(end.map((action) => (action.type === 'finish' ? action.summary.outcome.kind : action.type)), ['options-declined']);
  });

  it('answers the replayed ACK 0 of the real download with a window of four 1468-byte blocks', () => {
    const download = packets[3]?.packet;
    const ackZero = packets[5]?.packet;
    assert.ok(download?.opcode === TftpOpcode.ReadRequest && ackZero?.opcode === TftpOpcode.Ack);
    const negotiation = negotiateTftpOptions(download.options, sizeInOack, limits);
    assert.deepEqual(negotiation.acknowledged, [{ name: 'blksize', value: '1468' }, { name: 'windowsize', value: '4' }]);
    const machine = new TftpReadTransfer({ fileSize: sizeInOack, ...negotiation.parameters, optionAck: negotiation.acknowledged, retransmitTimeoutMs: 1000, maxRetries: 5 });
    machine.handle({ type: 'start', now: 0 });
    const window = machine.handle({ type: 'ack', block: ackZero.block, now: 1 });
    assert.deepEqual(
      window.flatMap((action) => (action.type === 'send-data' ? [`${action.block}@${action.position}+${action.length}`] : [])),
      ['1@0+1468', '2@1468+1468', '3@2936+1468', '4@4404+1468'],
    );
  });
});
