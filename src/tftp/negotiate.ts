// RFC 2347 option negotiation for read requests: which options the OACK carries and the transfer parameters that follow.
import type { TftpOption } from './codec.ts';

/** What the server allows, from configuration and the interface MTU. */
export interface TftpNegotiationLimits {
  /** Largest blksize granted; 1468 = 1500-byte Ethernet MTU − 20 (IP) − 8 (UDP) − 4 (TFTP header). */
  maxBlockSize: number;
  /** Largest windowsize granted (RFC 7440); more blocks in flight than this only adds loss on cheap NICs. */
  maxWindowSize: number;
}

/** The parameters a transfer runs with after negotiation. */
export interface TftpTransferParameters {
  blockSize: number;
  windowSize: number;
  /** Retransmit interval the client asked for (RFC 2349 timeout), or undefined to use the server's own. */
  timeoutMs: number | undefined;
}

/** Result of negotiating one request: the OACK options (empty: no OACK, start with DATA 1) and the parameters. */
export interface TftpNegotiation {
  acknowledged: TftpOption[];
  parameters: TftpTransferParameters;
}

/** RFC 1350 block size, used when the client asks for nothing else. */
export const tftpDefaultBlockSize = 512;

// RFC 2348: "Valid values range between 8 and 65464 octets, inclusive."
const minBlockSize = 8;
const maxProtocolBlockSize = 65464;
// RFC 7440 §3: "Valid values range between 1 and 65535 blocks, inclusive."
const maxProtocolWindowSize = 65535;
// RFC 2349 allows 1–255 s, but a client that asks for more than this is not granted it: a long interval only delays
// recovery from one lost packet, and the transfer ends after its idle timeout (30 s by default) anyway. 10 s still
// grants U-Boot's default request (5 s).
const maxGrantedTimeoutSeconds = 10;

/** Parses a decimal option value; anything but plain digits (signs, spaces, hex, empty) is not a number. */
function parseDecimal(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Answers the options of a read request for a file of `fileSize` bytes.
 * Option names are case-insensitive and the first occurrence wins (RFC 2347); unknown or malformed options are
 * left out of the OACK, which RFC 2347 lets a server do and which clients treat as "not granted".
 */
export function negotiateTftpOptions(
  requested: readonly TftpOption[],
  fileSize: number,
  limits: TftpNegotiationLimits,
): TftpNegotiation {
  const acknowledged: TftpOption[] = [];
  const parameters: TftpTransferParameters = { blockSize: tftpDefaultBlockSize, windowSize: 1, timeoutMs: undefined };
  const seen = new Set<string>();
  for (const option of requested) {
    const name = option.name.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    const value = parseDecimal(option.value);
    if (value === undefined) continue;
    switch (name) {
      case 'blksize': {
        // RFC 2348: the server may answer a smaller size, never a larger one (EDK2 rejects a larger answer).
        if (value < minBlockSize) break;
        const granted = Math.min(value, limits.maxBlockSize, maxProtocolBlockSize);
        parameters.blockSize = granted;
        acknowledged.push({ name, value: String(granted) });
        break;
      }
      case 'tsize':
        // RFC 2349: a read request carries tsize 0 and the OACK carries the real size. UEFI sends a
        // tsize-only probe first and aborts with ERROR 8 once it knows the size.
        acknowledged.push({ name, value: String(fileSize) });
        break;
      case 'timeout':
        // RFC 2349: a server that accepts the option answers with the same value; one that does not, leaves it out
        // of the OACK (never a smaller value) and keeps its own retransmit interval.
        if (value < 1 || value > maxGrantedTimeoutSeconds) break;
        parameters.timeoutMs = value * 1000;
        acknowledged.push({ name, value: String(value) });
        break;
      case 'windowsize': {
        // RFC 7440 §3: the server may answer a smaller window, never a larger one.
        if (value < 1) break;
        const granted = Math.min(value, limits.maxWindowSize, maxProtocolWindowSize);
        parameters.windowSize = granted;
        acknowledged.push({ name, value: String(granted) });
        break;
      }
      default:
        // RFC 2347: unknown options (multicast, utimeout, vendor extensions) are ignored.
        break;
    }
  }
  return { acknowledged, parameters };
}
