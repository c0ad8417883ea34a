// Screens a TFTP request before any file is looked up: read-only server, octet mode, a sane path.
import { TftpErrorCode, TftpOpcode, type TftpPacket } from './codec.ts';

/** Longest request path accepted; real boot file names are far shorter and RFC 1350 requests fit in 512 bytes. */
export const tftpMaxPathLength = 255;

/** Untrusted text from a client (file names, ERROR messages) is logged, but never more than this much of it. */
export const tftpLoggedTextLength = 128;

/** A request refused before any lookup: the ERROR packet to send and the reason to log. */
export interface TftpRefusal {
  kind: 'refuse';
  code: TftpErrorCode;
  message: string;
  reason: string;
}

/** A read request worth looking up: the normalised path. */
export interface TftpAdmittedRead {
  kind: 'read';
  path: string;
}

/**
 * Normalises a request path the way Windows-era clients need and refuses what no file source should see.
 * `\` becomes `/` (WDS, old PXELINUX configs, pxeboot.n12 send `boot\x86\wdsnbp.com`), leading slashes go
 * (clients send both `/ipxe.efi` and `ipxe.efi`). Traversal checks belong to the file source.
 */
export function normaliseTftpPath(filename: string): TftpAdmittedRead | TftpRefusal {
  if (filename.includes('\0')) return accessViolation('path contains a NUL byte');
  if (filename.length > tftpMaxPathLength) {
    return accessViolation(`path is ${filename.length} bytes long, more than ${tftpMaxPathLength}`);
  }
  const path = filename.replaceAll('\\', '/').replace(/^\/+/, '');
  if (path === '') return { kind: 'refuse', code: TftpErrorCode.FileNotFound, message: 'File not found', reason: 'path is empty' };
  return { kind: 'read', path };
}

function accessViolation(reason: string): TftpRefusal {
  return { kind: 'refuse', code: TftpErrorCode.AccessViolation, message: 'Access violation', reason };
}

/** Decides whether a request packet on port 69 starts a read, or which ERROR refuses it. */
export function screenTftpRequest(request: Extract<TftpPacket, { filename: string }>): TftpAdmittedRead | TftpRefusal {
  if (request.opcode === TftpOpcode.WriteRequest) return accessViolation('write requests are refused: the server is read-only');
  // Boot firmware always asks for octet; netascii would need line-ending conversion that no boot file wants.
  if (request.mode.toLowerCase() !== 'octet') {
    return {
      kind: 'refuse',
      code: TftpErrorCode.IllegalOperation,
      message: 'Only octet mode is supported',
      reason: `transfer mode "${request.mode.slice(0, 16)}" is not supported`,
    };
  }
  return normaliseTftpPath(request.filename);
}
