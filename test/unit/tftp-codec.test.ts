import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeTftpPacket,
  encodeTftpPacket,
  TftpDecodeError,
  TftpDecodeErrorCode,
  tftpErrorCodeName,
  TftpOpcode,
  tftpOpcodeName,
  type TftpPacket,
} from '../../src/tftp/codec.ts';

const bytes = (...parts: Array<string | number[]>): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === 'string' ? [...Buffer.from(part, 'latin1')] : part)));

describe('decodeTftpPacket', () => {
  it('decodes the RRQ an EDK2 UEFI client sends (capture uefi-x64-edk2-pxe-then-ipxe, frame 8)', () => {
    const wire = bytes([0, 1], 'ipxe.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0');
    assert.deepEqual(decodeTftpPacket(wire), {
      opcode: TftpOpcode.ReadRequest,
      filename: 'ipxe.efi',
      mode: 'octet',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1468' },
        { name: 'windowsize', value: '4' },
      ],
    });
  });

  it('decodes the ERROR 8 with which EDK2 ends its tsize probe (frame 10)', () => {
    assert.deepEqual(decodeTftpPacket(bytes([0, 5, 0, 8], 'User aborted the transfer\0')), {
      opcode: TftpOpcode.Error,
      code: 8,
      message: 'User aborted the transfer',
    });
  });

  it('accepts requests padded with trailing NULs after the last option', () => {
    const packet = decodeTftpPacket(bytes([0, 1], 'pxelinux.0\0octet\0tsize\x000\0', [0, 0, 0]));
    assert.deepEqual(packet, { opcode: 1, filename: 'pxelinux.0', mode: 'octet', options: [{ name: 'tsize', value: '0' }] });
  });

  it('returns DATA payloads as views, not copies', () => {
    const wire = bytes([0, 3, 0xff, 0xff, 1, 2, 3]);
    const packet = decodeTftpPacket(wire);
    assert.equal(packet.opcode, TftpOpcode.Data);
    assert.equal(packet.block, 65535);
    assert.equal(packet.data.buffer, wire.buffer);
    assert.deepEqual([...packet.data], [1, 2, 3]);
  });

  const failures: Array<[string, Uint8Array, string, number]> = [
    ['an empty datagram', bytes([]), TftpDecodeErrorCode.Truncated, 0],
    ['a lone byte', bytes([0]), TftpDecodeErrorCode.Truncated, 1],
    ['an ACK without a block number', bytes([0, 4, 0]), TftpDecodeErrorCode.Truncated, 3],
    ['an unknown opcode', bytes([0, 9, 0, 0]), TftpDecodeErrorCode.UnknownOpcode, 0],
    ['an RRQ whose file name never ends', bytes([0, 1], 'abc'), TftpDecodeErrorCode.UnterminatedString, 2],
    ['an RRQ without a mode', bytes([0, 1], 'abc\0'), TftpDecodeErrorCode.UnterminatedString, 6],
    ['an option without a value', bytes([0, 1], 'a\0octet\0tsize\0'), TftpDecodeErrorCode.OptionWithoutValue, 10],
    ['an option value without its NUL', bytes([0, 6], 'blksize\x001468'), TftpDecodeErrorCode.UnterminatedString, 10],
  ];
  for (const [what, wire, code, offset] of failures) {
    it(`rejects ${what} with ${code} at byte ${offset}`, () => {
      assert.throws(
        () => decodeTftpPacket(wire),
        (error: unknown) => error instanceof TftpDecodeError && error.code === code && error.offset === offset,
      );
    });
  }

  it('throws nothing but TftpDecodeError for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (wire) => {
        try {
          decodeTftpPacket(wire);
        } catch (error) {
          assert.ok(error instanceof TftpDecodeError, `unexpected ${String(error)}`);
          assert.ok(error.offset >= 0 && error.offset <= wire.length, `offset ${error.offset} outside the packet`);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('throws nothing but TftpDecodeError for random bytes behind a valid opcode', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.uint8Array({ maxLength: 200 }), (opcode, rest) => {
        try {
          decodeTftpPacket(Uint8Array.from([0, opcode, ...rest]));
        } catch (error) {
          assert.ok(error instanceof TftpDecodeError, `unexpected ${String(error)}`);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('encodeTftpPacket', () => {
  // Strings without NUL: a NUL ends a string on the wire. Option names must be non-empty, or an empty name
  // followed by an empty value would read as trailing padding.
  const text = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((code) => String.fromCharCode(code)), maxLength: 40 });
  const plain = { noNullPrototype: true } as const;
  const option = fc.record({ name: text.filter((name) => name.length > 0), value: text }, plain);
  const packet: fc.Arbitrary<TftpPacket> = fc.oneof(
    fc.record({ opcode: fc.constantFrom(TftpOpcode.ReadRequest, TftpOpcode.WriteRequest), filename: text, mode: text, options: fc.array(option, { maxLength: 6 }) }, plain),
    fc.record({ opcode: fc.constant(TftpOpcode.Data), block: fc.integer({ min: 0, max: 0xffff }), data: fc.uint8Array({ maxLength: 1468 }) }, plain),
    fc.record({ opcode: fc.constant(TftpOpcode.Ack), block: fc.integer({ min: 0, max: 0xffff }) }, plain),
    fc.record({ opcode: fc.constant(TftpOpcode.Error), code: fc.integer({ min: 0, max: 0xffff }), message: text }, plain),
    fc.record({ opcode: fc.constant(TftpOpcode.OptionAck), options: fc.array(option, { maxLength: 6 }) }, plain),
  );

  it('round-trips every packet through decodeTftpPacket', () => {
    fc.assert(
      fc.property(packet, (original) => {
        assert.deepEqual(decodeTftpPacket(encodeTftpPacket(original)), original);
      }),
      { numRuns: 3000 },
    );
  });

  it('writes the OACK an EDK2 client accepted from dnsmasq byte for byte (frame 12)', () => {
    const wire = encodeTftpPacket({ opcode: TftpOpcode.OptionAck, options: [{ name: 'blksize', value: '1468' }] });
    assert.deepEqual(wire, bytes([0, 6], 'blksize\x001468\0'));
  });

  it('writes block numbers and error codes big-endian', () => {
    assert.deepEqual(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: 0x1234 }), bytes([0, 4, 0x12, 0x34]));
    assert.deepEqual(encodeTftpPacket({ opcode: TftpOpcode.Error, code: 1, message: 'File not found' }), bytes([0, 5, 0, 1], 'File not found\0'));
  });
});

describe('names for logs', () => {
  it('names opcodes and error codes, and says which number an unknown one was', () => {
    assert.equal(tftpOpcodeName(TftpOpcode.OptionAck), 'OACK');
    assert.equal(tftpOpcodeName(77), 'opcode 77');
    assert.equal(tftpErrorCodeName(8), 'option negotiation failed');
    assert.equal(tftpErrorCodeName(42), 'error 42');
  });
});
