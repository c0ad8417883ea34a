// DHCP packet codec (RFC 2131, RFC 2132 options, RFC 3396 long options). Pure: no I/O, no clock.
import { DhcpOption } from './options.ts';

/** Stable codes of DhcpDecodeError; callers and tests branch on these, never on message text. */
export const DhcpDecodeErrorCode = {
  truncatedHeader: 'DHCP_TRUNCATED_HEADER',
  missingMagicCookie: 'DHCP_MISSING_MAGIC_COOKIE',
  badMagicCookie: 'DHCP_BAD_MAGIC_COOKIE',
  truncatedOption: 'DHCP_TRUNCATED_OPTION',
  badOverload: 'DHCP_BAD_OVERLOAD',
  truncatedSubOption: 'DHCP_TRUNCATED_SUBOPTION',
} as const;

/** One of the DhcpDecodeErrorCode values. */
export type DhcpDecodeErrorCodeValue = (typeof DhcpDecodeErrorCode)[keyof typeof DhcpDecodeErrorCode];

/** The only error the DHCP decoders throw: what was wrong and at which byte of the input. */
export class DhcpDecodeError extends Error {
  readonly code: DhcpDecodeErrorCodeValue;
  readonly offset: number;

  constructor(code: DhcpDecodeErrorCodeValue, offset: number, detail: string) {
    super(`${detail} (byte ${offset})`);
    this.name = 'DhcpDecodeError';
    this.code = code;
    this.offset = offset;
  }
}

/** A BOOTP/DHCP message (RFC 2131 §2) with its options merged from every area (RFC 3396 concatenation, option 52 overload). */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  /** "next server": where the client fetches its boot file; iPXE ignores ProxyDHCP replies without it. */
  siaddr: string;
  giaddr: string;
  /** All 16 bytes of the chaddr field; `hlen` says how many are the hardware address. */
  chaddr: Uint8Array;
  /** Server host name field, up to 63 Latin-1 characters (empty when overloaded with options). */
  sname: string;
  /** Boot file name field, up to 127 Latin-1 characters (empty when overloaded with options). */
  file: string;
  /** Options by code in the order first seen; option 52 is consumed by the decoder and never appears here. */
  options: ReadonlyMap<number, Uint8Array>;
}

/** The BROADCAST bit of the flags field (RFC 2131 §2, figure 2). */
export const BOOTP_BROADCAST_FLAG = 0x8000;

const HEADER_LENGTH = 236;
const MAGIC_COOKIE = 0x63825363;
const SNAME_OFFSET = 44;
const SNAME_LENGTH = 64;
const FILE_OFFSET = 108;
const FILE_LENGTH = 128;
const OPTIONS_OFFSET = HEADER_LENGTH + 4;
/** RFC 1542 §3.1.1: some relays and old PXE ROMs drop BOOTP messages shorter than 300 bytes, so replies are padded to it. */
const MINIMUM_MESSAGE_LENGTH = 300;

/** Decodes one DHCP message; throws DhcpDecodeError (and nothing else) when the bytes are not one. */
export function decodeDhcpPacket(bytes: Uint8Array): DhcpPacket {
  if (bytes.length < HEADER_LENGTH) {
    throw new DhcpDecodeError(DhcpDecodeErrorCode.truncatedHeader, bytes.length, `BOOTP header needs ${HEADER_LENGTH} bytes, got ${bytes.length}`);
  }
  if (bytes.length < OPTIONS_OFFSET) {
    throw new DhcpDecodeError(DhcpDecodeErrorCode.missingMagicCookie, HEADER_LENGTH, 'no DHCP magic cookie after the BOOTP header');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(HEADER_LENGTH) !== MAGIC_COOKIE) {
    throw new DhcpDecodeError(DhcpDecodeErrorCode.badMagicCookie, HEADER_LENGTH, 'DHCP magic cookie is not 99.130.83.99');
  }

  const options = new Map<number, Uint8Array>();
  const firstSeenAt = new Map<number, number>();
  decodeOptionArea(bytes, OPTIONS_OFFSET, bytes.length, options, firstSeenAt);

  let sname = latin1Field(bytes, SNAME_OFFSET, SNAME_LENGTH);
  let file = latin1Field(bytes, FILE_OFFSET, FILE_LENGTH);
  const overload = options.get(DhcpOption.overload);
  if (overload !== undefined) {
    const at = firstSeenAt.get(DhcpOption.overload) ?? OPTIONS_OFFSET;
    const mode = overload[0];
    if (overload.length !== 1 || mode === undefined || mode < 1 || mode > 3) {
      throw new DhcpDecodeError(DhcpDecodeErrorCode.badOverload, at, 'option 52 (overload) must be one byte 1, 2 or 3');
    }
    // RFC 3396 §5: the areas are read in the order options, file, sname.
    if (mode & 1) {
      decodeOptionArea(bytes, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, options, firstSeenAt);
      file = '';
    }
    if (mode & 2) {
      decodeOptionArea(bytes, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, options, firstSeenAt);
      sname = '';
    }
    // Overload is consumed here, and an instance inside file or sname means nothing (RFC 2132 §9.3).
    options.delete(DhcpOption.overload);
  }

  return {
    op: view.getUint8(0),
    htype: view.getUint8(1),
    hlen: view.getUint8(2),
    hops: view.getUint8(3),
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: ipv4At(bytes, 12),
    yiaddr: ipv4At(bytes, 16),
    siaddr: ipv4At(bytes, 20),
    giaddr: ipv4At(bytes, 24),
    chaddr: bytes.slice(28, 44),
    sname,
    file,
    options,
  };
}

/** Encodes a DHCP message: options in map order, values over 255 bytes split as RFC 3396 says, padded to 300 bytes. */
export function encodeDhcpPacket(packet: DhcpPacket): Uint8Array {
  if (packet.chaddr.length > 16) throw new RangeError(`chaddr has ${packet.chaddr.length} bytes; the field holds 16`);
  const sname = latin1Bytes(packet.sname, SNAME_LENGTH - 1, 'sname');
  const file = latin1Bytes(packet.file, FILE_LENGTH - 1, 'file');

  let optionsLength = 1; // end option
  for (const [code, value] of packet.options) {
    if (!Number.isInteger(code) || code < 1 || code > 254 || code === DhcpOption.overload) {
      throw new RangeError(`option code ${code} cannot be encoded as an option`);
    }
    optionsLength += Math.max(1, Math.ceil(value.length / 255)) * 2 + value.length;
  }
  const bytes = new Uint8Array(Math.max(MINIMUM_MESSAGE_LENGTH, OPTIONS_OFFSET + optionsLength));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, packet.op);
  view.setUint8(1, packet.htype);
  view.setUint8(2, packet.hlen);
  view.setUint8(3, packet.hops);
  view.setUint32(4, packet.xid);
  view.setUint16(8, packet.secs);
  view.setUint16(10, packet.flags);
  bytes.set(ipv4Bytes(packet.ciaddr), 12);
  bytes.set(ipv4Bytes(packet.yiaddr), 16);
  bytes.set(ipv4Bytes(packet.siaddr), 20);
  bytes.set(ipv4Bytes(packet.giaddr), 24);
  bytes.set(packet.chaddr, 28);
  bytes.set(sname, SNAME_OFFSET);
  bytes.set(file, FILE_OFFSET);
  view.setUint32(HEADER_LENGTH, MAGIC_COOKIE);

  let at = OPTIONS_OFFSET;
  for (const [code, value] of packet.options) {
    let rest = value;
    do {
      const chunk = rest.subarray(0, 255);
      bytes[at] = code;
      bytes[at + 1] = chunk.length;
      bytes.set(chunk, at + 2);
      at += 2 + chunk.length;
      rest = rest.subarray(chunk.length);
    } while (rest.length > 0);
  }
  bytes[at] = DhcpOption.end;
  return bytes;
}

/** Decodes encapsulated sub-options (option 43 for PXE, 175 for iPXE): code, length, value, with pad 0 and end 255. */
export function decodeSubOptions(value: Uint8Array): Map<number, Uint8Array> {
  const subOptions = new Map<number, Uint8Array>();
  let at = 0;
  while (at < value.length) {
    const code = value[at] ?? 0;
    if (code === DhcpOption.end) break;
    if (code === DhcpOption.pad) {
      at += 1;
      continue;
    }
    const length = value[at + 1];
    if (length === undefined || at + 2 + length > value.length) {
      throw new DhcpDecodeError(DhcpDecodeErrorCode.truncatedSubOption, at, `sub-option ${code} runs past the end of its option`);
    }
    const previous = subOptions.get(code);
    const body = value.slice(at + 2, at + 2 + length);
    subOptions.set(code, previous === undefined ? body : concat(previous, body));
    at += 2 + length;
  }
  return subOptions;
}

/** Encodes sub-options for option 43 followed by the end tag 255 that the PXE 2.1 specification (§2.2.5) requires. */
export function encodeSubOptions(subOptions: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const parts: number[] = [];
  for (const [code, value] of subOptions) {
    if (code < 1 || code > 254 || value.length > 255) throw new RangeError(`sub-option ${code} with ${value.length} bytes cannot be encoded`);
    parts.push(code, value.length, ...value);
  }
  parts.push(DhcpOption.end);
  return Uint8Array.from(parts);
}

/** The client's hardware address as lower-case colon-separated hex, e.g. "52:54:00:12:34:56". */
export function clientHardwareAddress(packet: DhcpPacket): string {
  const length = Math.min(packet.hlen, 16);
  return Array.from(packet.chaddr.subarray(0, length), (byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** Dotted-quad text of a 4-byte option value, or undefined when the value is not 4 bytes. */
export function ipv4FromOption(value: Uint8Array | undefined): string | undefined {
  return value?.length === 4 ? ipv4At(value, 0) : undefined;
}

/** The 4 bytes of a dotted-quad IPv4 address; throws RangeError for anything else. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split('.');
  const bytes = parts.map(Number);
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part)) || bytes.some((byte) => byte > 255)) {
    throw new RangeError(`"${address}" is not a dotted-quad IPv4 address`);
  }
  return Uint8Array.from(bytes);
}

/** Latin-1 text of bytes, so that every byte value survives a decode/encode round trip. */
export function latin1Text(bytes: Uint8Array): string {
  // In chunks: a concatenated option (RFC 3396) can be tens of kilobytes, too many arguments for one call.
  let text = '';
  for (let at = 0; at < bytes.length; at += 4096) text += String.fromCharCode(...bytes.subarray(at, at + 4096));
  return text;
}

/** Latin-1 bytes of text that came from latin1Text or from ASCII literals. */
export function latin1Encode(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => character.charCodeAt(0) & 0xff);
}

function decodeOptionArea(
  bytes: Uint8Array,
  start: number,
  end: number,
  options: Map<number, Uint8Array>,
  firstSeenAt: Map<number, number>,
): void {
  let at = start;
  // A missing end option is tolerated: several PXE ROMs stop right after the last option.
  while (at < end) {
    const code = bytes[at] ?? 0;
    if (code === DhcpOption.end) return;
    if (code === DhcpOption.pad) {
      at += 1;
      continue;
    }
    const length = at + 1 < end ? bytes[at + 1] : undefined;
    if (length === undefined || at + 2 + length > end) {
      throw new DhcpDecodeError(DhcpDecodeErrorCode.truncatedOption, at, `option ${code} runs past the end of its area`);
    }
    const value = bytes.slice(at + 2, at + 2 + length);
    const previous = options.get(code);
    // RFC 3396 §7: several instances of one option are concatenated into one value.
    options.set(code, previous === undefined ? value : concat(previous, value));
    if (!firstSeenAt.has(code)) firstSeenAt.set(code, at);
    at += 2 + length;
  }
}

function latin1Field(bytes: Uint8Array, offset: number, length: number): string {
  const field = bytes.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return latin1Text(nul === -1 ? field : field.subarray(0, nul));
}

function latin1Bytes(text: string, maximum: number, field: string): Uint8Array {
  if (text.length > maximum || [...text].some((character) => character.charCodeAt(0) === 0 || character.charCodeAt(0) > 255)) {
    throw new RangeError(`${field} must be at most ${maximum} Latin-1 characters without NUL`);
  }
  return latin1Encode(text);
}

function ipv4At(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}
