import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeDhcpPacket,
  decodeSubOptions,
  DhcpDecodeError,
  DhcpDecodeErrorCode,
  encodeDhcpPacket,
  encodeSubOptions,
  type DhcpPacket,
} from '../../src/dhcp/codec.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';

/** A minimal valid message: header, cookie, then the given option bytes. */
function message(optionBytes: number[], edit?: (bytes: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(240 + optionBytes.length);
  bytes[0] = 1;
  bytes[1] = 1;
  bytes[2] = 6;
  bytes.set([0x63, 0x82, 0x53, 0x63], 236);
  bytes.set(optionBytes, 240);
  edit?.(bytes);
  return bytes;
}

function decodeError(bytes: Uint8Array): DhcpDecodeError {
  try {
    decodeDhcpPacket(bytes);
  } catch (error) {
    assert.ok(error instanceof DhcpDecodeError, `expected DhcpDecodeError, got ${String(error)}`);
    return error;
  }
  assert.fail('decodeDhcpPacket accepted invalid bytes');
}

describe('decodeDhcpPacket', () => {
  it('reads header fields, addresses, the hardware address and NUL-terminated sname/file', () => {
    const bytes = message([53, 1, 1, 255], (b) => {
      b.set([0xde, 0xad, 0xbe, 0xef], 4);
      b.set([0x80, 0x00], 10);
      b.set([10, 77, 0, 2], 20);
      b.set([0x52, 0x54, 0, 0x12, 0x34, 0x56], 28);
      b.set([...'host'].map((c) => c.charCodeAt(0)), 44);
      b.set([...'undionly.kpxe'].map((c) => c.charCodeAt(0)), 108);
    });
    const packet = decodeDhcpPacket(bytes);
    assert.equal(packet.xid, 0xdeadbeef);
    assert.equal(packet.flags, 0x8000);
    assert.equal(packet.siaddr, '10.77.0.2');
    assert.equal(packet.sname, 'host');
    assert.equal(packet.file, 'undionly.kpxe');
    assert.deepEqual([...packet.chaddr.subarray(0, 6)], [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    assert.deepEqual([...packet.options.keys()], [53]);
  });

  it('skips pad options and tolerates a missing end option', () => {
    const packet = decodeDhcpPacket(message([0, 0, 53, 1, 3, 60, 2, 0x41, 0x42]));
    assert.deepEqual([...packet.options.get(60)!], [0x41, 0x42]);
    assert.deepEqual([...packet.options.get(53)!], [3]);
  });

  it('concatenates repeated options (RFC 3396)', () => {
    const packet = decodeDhcpPacket(message([60, 2, 0x50, 0x58, 53, 1, 1, 60, 1, 0x45, 255]));
    assert.equal(Buffer.from(packet.options.get(60)!).toString('latin1'), 'PXE');
    assert.deepEqual([...packet.options.keys()], [60, 53]);
  });

  it('reads options from file and sname when option 52 says they are overloaded, in RFC 3396 order', () => {
    const bytes = message([52, 1, 3, 60, 1, 0x41, 255], (b) => {
      b.set([60, 1, 0x42, 67, 3, 0x61, 0x62, 0x63, 255], 108); // file area
      b.set([60, 1, 0x43, 255], 44); // sname area
    });
    const packet = decodeDhcpPacket(bytes);
    assert.equal(Buffer.from(packet.options.get(60)!).toString('latin1'), 'ABC');
    assert.equal(Buffer.from(packet.options.get(67)!).toString('latin1'), 'abc');
    assert.equal(packet.file, '');
    assert.equal(packet.sname, '');
    assert.equal(packet.options.has(52), false, 'option 52 is consumed by the decoder');
  });

  it('leaves sname alone when only the file field is overloaded', () => {
    const bytes = message([52, 1, 1, 255], (b) => {
      b.set([66, 1, 0x78, 255], 108);
      b.set([0x73, 0x72, 0x76], 44);
    });
    const packet = decodeDhcpPacket(bytes);
    assert.equal(packet.sname, 'srv');
    assert.deepEqual([...packet.options.get(66)!], [0x78]);
  });

  const failures: Array<[string, Uint8Array, string, number]> = [
    ['a short header', new Uint8Array(100), DhcpDecodeErrorCode.truncatedHeader, 100],
    ['a header without cookie', new Uint8Array(238), DhcpDecodeErrorCode.missingMagicCookie, 236],
    ['a wrong cookie', message([], (b) => b.set([1, 2, 3, 4], 236)), DhcpDecodeErrorCode.badMagicCookie, 236],
    ['an option longer than the packet', message([53, 1, 1, 60, 9, 0x41]), DhcpDecodeErrorCode.truncatedOption, 243],
    ['an option code without length', message([53]), DhcpDecodeErrorCode.truncatedOption, 240],
    ['an overload of 4', message([53, 1, 1, 52, 1, 4, 255]), DhcpDecodeErrorCode.badOverload, 243],
    ['a truncated option inside the overloaded file', message([52, 1, 1, 255], (b) => b.set([60, 200], 108)), DhcpDecodeErrorCode.truncatedOption, 108],
  ];
  for (const [what, bytes, code, offset] of failures) {
    it(`rejects ${what} with ${code} at byte ${offset}`, () => {
      const error = decodeError(bytes);
      assert.equal(error.code, code);
      assert.equal(error.offset, offset);
    });
  }

  it('throws nothing but DhcpDecodeError for any bytes (property)', () => {
    const cookieLed = fc.uint8Array({ minLength: 0, maxLength: 400 }).map((tail) => message([...tail]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), cookieLed), (bytes) => {
        try {
          decodeDhcpPacket(bytes);
        } catch (error) {
          if (!(error instanceof DhcpDecodeError)) throw error;
          assert.ok(error.offset >= 0 && error.offset <= bytes.length, `offset ${error.offset} outside ${bytes.length} bytes`);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('encodeDhcpPacket', () => {
  const latin1 = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)) });
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'));
  const packetArbitrary: fc.Arbitrary<DhcpPacket> = fc
    .record({
    op: fc.nat(255),
    htype: fc.nat(255),
    hlen: fc.nat(255),
    hops: fc.nat(255),
    xid: fc.nat(0xffffffff),
    secs: fc.nat(0xffff),
    flags: fc.nat(0xffff),
    ciaddr: ipv4,
    yiaddr: ipv4,
    siaddr: ipv4,
    giaddr: ipv4,
    chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    sname: latin1.filter((s) => s.length <= 63),
    file: latin1.filter((s) => s.length <= 127),
    options: fc
      .uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52), fc.uint8Array({ maxLength: 600 })), {
        selector: ([code]) => code,
        maxLength: 12,
      })
      .map((entries) => new Map(entries)),
    })
    .map((record) => ({ ...record })); // fc.record builds null-prototype objects; the decoder returns plain ones

  it('round-trips through decodeDhcpPacket, long options included (property)', () => {
    fc.assert(
      fc.property(packetArbitrary, (packet) => {
        assert.deepEqual(decodeDhcpPacket(encodeDhcpPacket(packet)), packet);
      }),
      { numRuns: 1000 },
    );
  });

  it('splits a 300-byte option into 255 + 45 byte instances and pads replies to 300 bytes', () => {
    const long = new Uint8Array(300).fill(7);
    const packet = { ...pxeClientRequest(), options: new Map([[43, long]]) };
    const bytes = encodeDhcpPacket(packet);
    assert.deepEqual([...bytes.subarray(240, 242)], [43, 255]);
    assert.deepEqual([...bytes.subarray(240 + 257, 240 + 259)], [43, 45]);
    assert.equal(bytes[240 + 257 + 47], 255, 'end option');
    assert.equal(encodeDhcpPacket({ ...packet, options: new Map() }).length, 300);
  });

  it('refuses a file name that does not fit the field, instead of truncating it', () => {
    assert.throws(() => encodeDhcpPacket({ ...pxeClientRequest(), file: 'x'.repeat(128) }), RangeError);
  });
});

describe('sub-options (options 43 and 175)', () => {
  it('decodes the iPXE option 175 of the EDK2-then-iPXE capture', () => {
    const captured = Uint8Array.of(177, 5, 1, 26, 244, 16, 0, 235, 3, 1, 0, 0, 23, 1, 1, 36, 1, 1);
    const subOptions = decodeSubOptions(captured);
    assert.deepEqual([...subOptions.keys()], [177, 235, 23, 36]);
    assert.deepEqual([...subOptions.get(235)!], [1, 0, 0]);
  });

  it('encodes PXE discovery control with the end tag', () => {
    assert.deepEqual([...encodeSubOptions(new Map([[6, Uint8Array.of(8)]]))], [6, 1, 8, 255]);
  });

  it('reports a truncated sub-option with its offset inside the option', () => {
    assert.throws(
      () => decodeSubOptions(Uint8Array.of(6, 1, 8, 10, 9, 0)),
      (error: unknown) => error instanceof DhcpDecodeError && error.code === DhcpDecodeErrorCode.truncatedSubOption && error.offset === 3,
    );
  });

  it('throws nothing but DhcpDecodeError for any bytes and round-trips what it encodes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeSubOptions(bytes);
        } catch (error) {
          if (!(error instanceof DhcpDecodeError)) throw error;
        }
      }),
    );
    const subOptions = fc
      .uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 255 })), { selector: ([code]) => code, maxLength: 8 })
      .map((entries) => new Map(entries));
    fc.assert(fc.property(subOptions, (map) => assert.deepEqual(decodeSubOptions(encodeSubOptions(map)), map)));
  });
});
