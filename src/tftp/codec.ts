// TFTP packet codec (RFC 1350 packets, RFC 2347 options and OACK). Pure: no I/O, no clock.

/** TFTP opcodes on the wire (RFC 1350 §5, OACK from RFC 2347). */
export const TftpOpcode = {
  ReadRequest: 1,
  WriteRequest: 2,
  Data: 3,
  Ack: 4,
  Error: 5,
  OptionAck: 6,
} as const;

/** One of the TFTP opcodes this codec knows. */
export type TftpOpcode = (typeof TftpOpcode)[keyof typeof TftpOpcode];

const opcodeNames: Readonly<Record<number, string>> = {
  1: 'RRQ',
  2: 'WRQ',
  3: 'DATA',
  4: 'ACK',
  5: 'ERROR',
  6: 'OACK',
};

/** Names an opcode for logs, e.g. 4 → "ACK"; unknown values print as "opcode 9". */
export function tftpOpcodeName(opcode: number): string {
  return opcodeNames[opcode] ?? `opcode ${opcode}`;
}

/** TFTP error codes (RFC 1350 §5, 8 from RFC 2347). */
export const TftpErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTransferId: 5,
  FileAlreadyExists: 6,
  NoSuchUser: 7,
  OptionNegotiationFailed: 8,
} as const;

/** One of the TFTP error codes with a defined meaning. */
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

const errorCodeNames: Readonly<Record<number, string>> = {
  0: 'not defined',
  1: 'file not found',
  2: 'access violation',
  3: 'disk full',
  4: 'illegal operation',
  5: 'unknown transfer ID',
  6: 'file already exists',
  7: 'no such user',
  8: 'option negotiation failed',
};

/** Names an error code for logs, e.g. 1 → "file not found"; unknown values print as "error 42". */
export function tftpErrorCodeName(code: number): string {
  return errorCodeNames[code] ?? `error ${code}`;
}

/** One RFC 2347 option as it appeared on the wire; names keep the sender's case, values are raw strings. */
export interface TftpOption {
  name: string;
  value: string;
}

/** A decoded TFTP packet. Strings are latin1 so every byte survives a round trip. */
export type TftpPacket =
  | { opcode: typeof TftpOpcode.ReadRequest | typeof TftpOpcode.WriteRequest; filename: string; mode: string; options: TftpOption[] }
  | { opcode: typeof TftpOpcode.Data; block: number; data: Uint8Array }
  | { opcode: typeof TftpOpcode.Ack; block: number }
  | { opcode: typeof TftpOpcode.Error; code: number; message: string }
  | { opcode: typeof TftpOpcode.OptionAck; options: TftpOption[] };

/** Stable codes of TftpDecodeError, for callers and logs to branch on. */
export const TftpDecodeErrorCode = {
  Truncated: 'TFTP_PACKET_TRUNCATED',
  UnknownOpcode: 'TFTP_UNKNOWN_OPCODE',
  UnterminatedString: 'TFTP_UNTERMINATED_STRING',
  OptionWithoutValue: 'TFTP_OPTION_WITHOUT_VALUE',
} as const;

/** One of the TftpDecodeError codes. */
export type TftpDecodeErrorCode = (typeof TftpDecodeErrorCode)[keyof typeof TftpDecodeErrorCode];

/** The only error decodeTftpPacket throws: what is wrong (code) and at which byte (offset). */
export class TftpDecodeError extends Error {
  readonly code: TftpDecodeErrorCode;
  readonly offset: number;

  constructor(code: TftpDecodeErrorCode, offset: number, message: string) {
    super(`${message} at byte ${offset}`);
    this.name = 'TftpDecodeError';
    this.code = code;
    this.offset = offset;
  }
}

/** Reads a NUL-terminated latin1 string starting at offset; returns it and the offset after the NUL. */
function readString(bytes: Uint8Array, offset: number, what: string): { text: string; next: number } {
  const end = bytes.indexOf(0, offset);
  if (end < 0) {
    throw new TftpDecodeError(TftpDecodeErrorCode.UnterminatedString, offset, `${what} has no terminating NUL`);
  }
  return { text: latin1(bytes, offset, end), next: end + 1 };
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i] as number);
  return text;
}

/** True when every byte from offset on is zero. */
function onlyZeros(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function readOptions(bytes: Uint8Array, offset: number): TftpOption[] {
  const options: TftpOption[] = [];
  let at = offset;
  // Some PXE ROMs pad requests with trailing NULs; an option list that ends in zeros only is complete.
  while (at < bytes.length && !onlyZeros(bytes, at)) {
    const name = readString(bytes, at, 'option name');
    if (name.next >= bytes.length) {
      throw new TftpDecodeError(TftpDecodeErrorCode.OptionWithoutValue, at, `option "${name.text.slice(0, 32)}" has no value`);
    }
    const value = readString(bytes, name.next, 'option value');
    options.push({ name: name.text, value: value.text });
    at = value.next;
  }
  return options;
}

function requireLength(bytes: Uint8Array, length: number): void {
  if (bytes.length < length) {
    throw new TftpDecodeError(TftpDecodeErrorCode.Truncated, bytes.length, `packet needs ${length} bytes, has ${bytes.length}`);
  }
}

/** Decodes one UDP payload; throws only TftpDecodeError. DATA payloads are views into `bytes`, not copies. */
export function decodeTftpPacket(bytes: Uint8Array): TftpPacket {
  requireLength(bytes, 2);
  const opcode = ((bytes[0] as number) << 8) | (bytes[1] as number);
  switch (opcode) {
    case TftpOpcode.ReadRequest:
    case TftpOpcode.WriteRequest: {
      const filename = readString(bytes, 2, 'file name');
      const mode = readString(bytes, filename.next, 'transfer mode');
      return { opcode, filename: filename.text, mode: mode.text, options: readOptions(bytes, mode.next) };
    }
    case TftpOpcode.Data:
      requireLength(bytes, 4);
      return { opcode, block: readUint16(bytes, 2), data: bytes.subarray(4) };
    case TftpOpcode.Ack:
      // Trailing bytes after the block number are ignored: some embedded clients pad short datagrams.
      requireLength(bytes, 4);
      return { opcode, block: readUint16(bytes, 2) };
    case TftpOpcode.Error: {
      requireLength(bytes, 4);
      // A missing terminator is tolerated: the message is only ever logged.
      const end = bytes.indexOf(0, 4);
      return { opcode, code: readUint16(bytes, 2), message: latin1(bytes, 4, end < 0 ? bytes.length : end) };
    }
    case TftpOpcode.OptionAck:
      return { opcode, options: readOptions(bytes, 2) };
    default:
      throw new TftpDecodeError(TftpDecodeErrorCode.UnknownOpcode, 0, `unknown opcode ${opcode}`);
  }
}

function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) << 8) | (bytes[offset + 1] as number);
}

function writeString(target: Uint8Array, offset: number, text: string): number {
  for (let i = 0; i < text.length; i++) target[offset + i] = text.charCodeAt(i) & 0xff;
  target[offset + text.length] = 0;
  return offset + text.length + 1;
}

function optionsLength(options: readonly TftpOption[]): number {
  let length = 0;
  for (const option of options) length += option.name.length + option.value.length + 2;
  return length;
}

function writeOptions(target: Uint8Array, offset: number, options: readonly TftpOption[]): number {
  let at = offset;
  for (const option of options) {
    at = writeString(target, at, option.name);
    at = writeString(target, at, option.value);
  }
  return at;
}

/** Encodes one packet into a new buffer; strings are written as latin1 (one byte per character, as decoded). */
export function encodeTftpPacket(packet: TftpPacket): Uint8Array {
  switch (packet.opcode) {
    case TftpOpcode.ReadRequest:
    case TftpOpcode.WriteRequest: {
      const out = new Uint8Array(2 + packet.filename.length + 1 + packet.mode.length + 1 + optionsLength(packet.options));
      writeUint16(out, 0, packet.opcode);
      let at = writeString(out, 2, packet.filename);
      at = writeString(out, at, packet.mode);
      writeOptions(out, at, packet.options);
      return out;
    }
    case TftpOpcode.Data: {
      const out = new Uint8Array(4 + packet.data.length);
      writeTftpDataHeader(out, packet.block);
      out.set(packet.data, 4);
      return out;
    }
    case TftpOpcode.Ack: {
      const out = new Uint8Array(4);
      writeUint16(out, 0, packet.opcode);
      writeUint16(out, 2, packet.block);
      return out;
    }
    case TftpOpcode.Error: {
      const out = new Uint8Array(4 + packet.message.length + 1);
      writeUint16(out, 0, packet.opcode);
      writeUint16(out, 2, packet.code);
      writeString(out, 4, packet.message);
      return out;
    }
    case TftpOpcode.OptionAck: {
      const out = new Uint8Array(2 + optionsLength(packet.options));
      writeUint16(out, 0, packet.opcode);
      writeOptions(out, 2, packet.options);
      return out;
    }
  }
}

function writeUint16(out: Uint8Array, offset: number, value: number): void {
  out[offset] = (value >> 8) & 0xff;
  out[offset + 1] = value & 0xff;
}

/** Writes a DATA header (opcode 3, block number) into the first four bytes of `target`, for packets built in place. */
export function writeTftpDataHeader(target: Uint8Array, block: number): void {
  writeUint16(target, 0, TftpOpcode.Data);
  writeUint16(target, 2, block);
}
