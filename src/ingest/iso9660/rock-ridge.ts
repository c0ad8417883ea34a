// System Use Sharing Protocol (SUSP 1.12) entries and the Rock Ridge entries they carry (RRIP 1.12).
// Pure: decodes one system use area or continuation area at a time; following CE pointers is the caller's.
import { decodeLongDate, decodeShortDate, readUint32 } from './ecma119.ts';
import { IsoError, IsoErrorCode } from './iso-error.ts';

/** Extension identifiers an ER entry uses for Rock Ridge (RRIP 1.09, 1.10 and 1.12, §5.5 / §A). */
export const ROCK_RIDGE_EXTENSION_IDS: ReadonlySet<string> = new Set(['RRIP_1991A', 'IEEE_P1282', 'IEEE_1282']);

/** Where the next continuation area of one record's system use entries is (SUSP 1.12 §5.1). */
export interface ContinuationArea {
  block: number;
  offset: number;
  length: number;
  /** Image byte offset of the CE entry that points there, for errors. */
  entryOffset: number;
}

/** One symbolic link component record (RRIP 1.12 §4.1.3.1). */
export interface SymlinkComponent {
  flags: number;
  content: Uint8Array;
}

/** What the system use entries of one directory record say, accumulated over its continuation areas. */
export interface SystemUseInfo {
  /** LEN_SKP of an SP entry (SUSP 1.12 §5.3), when the area starts with one. */
  suspSkip: number | undefined;
  /** ER extension identifiers (SUSP 1.12 §5.5). */
  extensions: string[];
  /** Any Rock Ridge entry seen (for RRIP 1.09 images without ER). */
  rockRidge: boolean;
  nameParts: Uint8Array[];
  /** Union of the NM flags (RRIP 1.12 §4.1.4): CURRENT, PARENT or HOST make the name unusable. */
  nameFlags: number;
  symlink: SymlinkComponent[] | undefined;
  /** POSIX st_mode from PX (RRIP 1.12 §4.1.1). */
  mode: number | undefined;
  /** Modification time from TF (RRIP 1.12 §4.1.6). */
  modified: Date | undefined;
  /** CL: logical block of the directory this record stands for (RRIP 1.12 §4.1.5.1). */
  childLink: number | undefined;
  /** RE: this directory was relocated and must be hidden here (RRIP 1.12 §4.1.5.3). */
  relocated: boolean;
  /** PN: a device node (RRIP 1.12 §4.1.2). */
  device: boolean;
  /** ZF: zisofs-compressed data (a libisofs extension, not RRIP). */
  zisofs: boolean;
}

/** Flags of NM and SL component records (RRIP 1.12 §4.1.3.1, §4.1.4). */
export const RockRidgeFlag = {
  Continue: 0x01,
  Current: 0x02,
  Parent: 0x04,
  Root: 0x08,
  VolumeRoot: 0x10,
  Host: 0x20,
} as const;

const signature = (text: string): number => (text.charCodeAt(0) << 8) | text.charCodeAt(1);
const SP = signature('SP');
const CE = signature('CE');
const ST = signature('ST');
const ER = signature('ER');
const PX = signature('PX');
const PN = signature('PN');
const SL = signature('SL');
const NM = signature('NM');
const CL = signature('CL');
const RE = signature('RE');
const TF = signature('TF');
const ZF = signature('ZF');
// RRIP entries whose presence alone marks Rock Ridge when an image lacks ER (RRIP 1.09, e.g. old mkisofs).
const ROCK_RIDGE_SIGNATURES: ReadonlySet<number> = new Set([PX, PN, SL, NM, CL, RE, TF, signature('PL'), signature('RR')]);

/** A fresh accumulator for one directory record. */
export function emptySystemUseInfo(): SystemUseInfo {
  return {
    suspSkip: undefined,
    extensions: [],
    rockRidge: false,
    nameParts: [],
    nameFlags: 0,
    symlink: undefined,
    mode: undefined,
    modified: undefined,
    childLink: undefined,
    relocated: false,
    device: false,
    zisofs: false,
  };
}

/**
 * Decodes the SUSP entries of one area (a record's system use field or a continuation area) found at image
 * byte `imageOffset` into `info`; returns the continuation area the area points to, if any. An ST entry or
 * zero padding ends the area.
 */
export function decodeSystemUseArea(area: Uint8Array, imageOffset: number, info: SystemUseInfo): ContinuationArea | undefined {
  let continuation: ContinuationArea | undefined;
  let at = 0;
  while (area.length - at >= 4) {
    const sig = ((area[at] as number) << 8) | (area[at + 1] as number);
    const length = area[at + 2] as number;
    // The system use field is padded to an even length with zeros (ECMA-119 §9.1.13), and libisofs
    // pads continuation areas the same way: zeros where a signature should be mean "no more entries".
    if (sig === 0 && length === 0) break;
    if (length < 4 || at + length > area.length) {
      throw new IsoError(IsoErrorCode.BadSystemUse, imageOffset + at, `SUSP entry of ${length} bytes does not fit its area`);
    }
    const entry = area.subarray(at, at + length);
    const entryOffset = imageOffset + at;
    if (sig === ST) break;
    if (ROCK_RIDGE_SIGNATURES.has(sig)) info.rockRidge = true;
    switch (sig) {
      case SP:
        // SP: check bytes BE EF, then LEN_SKP (SUSP 1.12 §5.3).
        if (at === 0 && length >= 7 && entry[4] === 0xbe && entry[5] === 0xef) info.suspSkip = entry[6] as number;
        break;
      case CE:
        requireLength(entry, 28, entryOffset, 'CE');
        continuation = { block: readUint32(entry, 4), offset: readUint32(entry, 12), length: readUint32(entry, 20), entryOffset };
        break;
      case ER: {
        requireLength(entry, 8, entryOffset, 'ER');
        const idLength = entry[4] as number;
        requireLength(entry, 8 + idLength, entryOffset, 'ER');
        info.extensions.push(ascii(entry.subarray(8, 8 + idLength)));
        break;
      }
      case PX:
        requireLength(entry, 36, entryOffset, 'PX');
        info.mode = readUint32(entry, 4);
        break;
      case PN:
        info.device = true;
        break;
      case NM:
        requireLength(entry, 5, entryOffset, 'NM');
        info.nameFlags |= entry[4] as number;
        info.nameParts.push(entry.subarray(5));
        break;
      case SL:
        requireLength(entry, 5, entryOffset, 'SL');
        decodeSymlinkComponents(entry, entryOffset, (info.symlink ??= []));
        break;
      case CL:
        requireLength(entry, 12, entryOffset, 'CL');
        info.childLink = readUint32(entry, 4);
        break;
      case RE:
        info.relocated = true;
        break;
      case TF:
        info.modified = decodeModified(entry, entryOffset) ?? info.modified;
        break;
      case ZF:
        info.zisofs = true;
        break;
    }
    at += length;
  }
  return continuation;
}

/** Component records of one SL entry, appended to `into` (RRIP 1.12 §4.1.3: a link may span several SL entries). */
function decodeSymlinkComponents(entry: Uint8Array, entryOffset: number, into: SymlinkComponent[]): void {
  let at = 5;
  while (at < entry.length) {
    if (at + 2 > entry.length || at + 2 + (entry[at + 1] as number) > entry.length) {
      throw new IsoError(IsoErrorCode.BadSystemUse, entryOffset + at, 'SL component record does not fit its entry');
    }
    const length = entry[at + 1] as number;
    into.push({ flags: entry[at] as number, content: entry.subarray(at + 2, at + 2 + length) });
    at += 2 + length;
  }
}

/** The MODIFY time of a TF entry: bit 1 of its flags, after CREATION when bit 0 is set (RRIP 1.12 §4.1.6). */
function decodeModified(entry: Uint8Array, entryOffset: number): Date | undefined {
  requireLength(entry, 5, entryOffset, 'TF');
  const flags = entry[4] as number;
  if ((flags & 0x02) === 0) return undefined;
  const size = flags & 0x80 ? 17 : 7;
  const at = 5 + (flags & 0x01 ? size : 0);
  requireLength(entry, at + size, entryOffset, 'TF');
  return size === 17 ? decodeLongDate(entry, at) : decodeShortDate(entry, at);
}

/**
 * Joins symlink component records into a target path (RRIP 1.12 §4.1.3.1): ROOT starts an absolute path,
 * CURRENT and PARENT are "." and "..", a CONTINUE component joins the next one without a slash. Returns a
 * reason instead when the link cannot be written safely (VOLROOT/HOST, "/" or NUL inside a component).
 */
export function symlinkTarget(components: readonly SymlinkComponent[], decodeName: (bytes: Uint8Array) => string | undefined): string | { unusable: string } {
  let target = '';
  let separate = false;
  let joinNext = false;
  for (const component of components) {
    if (component.flags & (RockRidgeFlag.VolumeRoot | RockRidgeFlag.Host)) return { unusable: 'symlink names the volume root or the host' };
    if (component.flags & RockRidgeFlag.Root) {
      target += separate ? '/' : target === '' ? '/' : '';
      separate = false;
      joinNext = false;
      continue;
    }
    let text: string | undefined;
    if (component.flags & RockRidgeFlag.Current) text = '.';
    else if (component.flags & RockRidgeFlag.Parent) text = '..';
    else text = decodeName(component.content);
    if (text === undefined) return { unusable: 'symlink target is not valid UTF-8' };
    if (text.includes('/') || text.includes('\0')) return { unusable: 'symlink target component contains "/" or NUL' };
    if (separate && !joinNext) target += '/';
    target += text;
    separate = true;
    joinNext = (component.flags & RockRidgeFlag.Continue) !== 0;
  }
  if (target === '') return { unusable: 'symlink has an empty target' };
  return target;
}

function requireLength(entry: Uint8Array, length: number, entryOffset: number, name: string): void {
  if (entry.length < length) {
    throw new IsoError(IsoErrorCode.BadSystemUse, entryOffset, `${name} entry of ${entry.length} bytes is shorter than ${length}`);
  }
}

function ascii(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}
