// One TFTP read transfer as a pure state machine: inputs in, actions out. Time arrives inside inputs
// (`now`, in milliseconds from any monotonic origin), so tests drive it with a fake clock and no sockets.
import { TftpErrorCode, type TftpOption } from './codec.ts';

/** How one transfer runs, fixed when it starts. */
export interface TftpTransferConfig {
  fileSize: number;
  blockSize: number;
  /** RFC 7440 window: DATA packets sent before an ACK is needed; 1 is RFC 1350 lock-step. */
  windowSize: number;
  /** Options for the OACK; empty means no OACK and DATA 1 goes out at once (RFC 2347). */
  optionAck: TftpOption[];
  /** First retransmit interval; each further try doubles it, up to 8× (exponential backoff). */
  retransmitTimeoutMs: number;
  /** Retransmissions of one packet or window before the transfer is given up. */
  maxRetries: number;
  /**
   * The transfer is given up when the client has let this long pass without progress (no OACK confirmed, no new
   * window acknowledged), whatever it sends meanwhile and whatever timeout it negotiated; default
   * tftpDefaultIdleTimeoutMs. This bounds how long a silent or hostile client holds a transfer slot.
   */
  idleTimeoutMs?: number;
}

/**
 * 30 s without progress ends a transfer: a PXE client resends within seconds (iPXE's retry timer backs off to 10 s,
 * then gives up), so one silent for 30 s has gone. A spoofed request that is never acknowledged holds its slot this
 * long and no longer (issue 14: "timeout 255" with backoff held one for 7,905 s); retries × timeout stay under a minute.
 */
export const tftpDefaultIdleTimeoutMs = 30_000;

/** What happens to a transfer, as the machine's input: its start, the client's packets, its timer. */
export type TftpTransferInput =
  | { type: 'start'; now: number }
  | { type: 'ack'; block: number; now: number }
  | { type: 'error'; code: number; message: string; now: number }
  | { type: 'timer-fired'; now: number };

/** How a transfer ended. */
export type TftpTransferOutcome =
  | { kind: 'completed' }
  /** The client refused the OACK with ERROR 8: the normal end of a UEFI tsize probe. */
  | { kind: 'options-declined'; message: string }
  | { kind: 'client-error'; code: number; message: string }
  | { kind: 'timed-out'; retries: number };

/** Outcome plus what every end-of-transfer log line reports. */
export interface TftpTransferSummary {
  outcome: TftpTransferOutcome;
  /** File bytes the client acknowledged. */
  bytesAcknowledged: number;
  durationMs: number;
  /** DATA and OACK packets sent again after a timeout or a client's request. */
  retransmissions: number;
}

/** What the service must do, in order. */
export type TftpTransferAction =
  | { type: 'send-option-ack'; options: TftpOption[] }
  /** Send DATA `block` (the 16-bit wire number) carrying file bytes [position, position + length). */
  | { type: 'send-data'; block: number; position: number; length: number }
  | { type: 'send-error'; code: number; message: string }
  /** (Re)arm the transfer's one timer; an armed timer is replaced, never added to. */
  | { type: 'arm-timer'; delayMs: number }
  /** The transfer is over: cancel the timer, free the socket and file. */
  | { type: 'finish'; summary: TftpTransferSummary };

// Backoff stops growing at 8× the first interval so a loaded client still gets a timely resend.
const maxBackoffFactor = 8;

/**
 * The sender side of one RFC 1350 read, with RFC 2347 OACK and RFC 7440 windows.
 * Blocks are tracked as absolute numbers (1, 2, … beyond 65535) and put on the wire modulo 65536, so files over
 * 32 MiB at 512-byte blocks roll over from 65535 to 0, which is what EDK2's Mtftp4 expects.
 */
export class TftpReadTransfer {
  readonly #config: TftpTransferConfig;
  readonly #totalBlocks: number;
  #phase: 'idle' | 'awaiting-option-ack' | 'sending' | 'done' = 'idle';
  /** First block of the current window (absolute); the client has acknowledged everything before it. */
  #windowStart = 1;
  /** Last block sent in the current window (absolute). */
  #windowEnd = 0;
  #retries = 0;
  #retransmissions = 0;
  #startedAt = 0;
  /** When the client last made progress; the transfer ends idleTimeoutMs after it. */
  #progressAt = 0;
  #deadline = 0;

  constructor(config: TftpTransferConfig) {
    this.#config = config;
    // The last DATA is always shorter than blksize, so a file that is a whole number of blocks ends with an
    // empty DATA (RFC 1350 §6).
    this.#totalBlocks = Math.floor(config.fileSize / config.blockSize) + 1;
  }

  /** Number of DATA packets the whole file takes. */
  get totalBlocks(): number {
    return this.#totalBlocks;
  }

  /** True once a finish action has been emitted; later inputs produce no actions. */
  get finished(): boolean {
    return this.#phase === 'done';
  }

  /** Feeds one input and returns what to do, in order. */
  handle(input: TftpTransferInput): TftpTransferAction[] {
    switch (input.type) {
      case 'start':
        return this.#start(input.now);
      case 'ack':
        return this.#ack(input.block, input.now);
      case 'error':
        return this.#clientError(input.code, input.message, input.now);
      case 'timer-fired':
        return this.#timerFired(input.now);
    }
  }

  #start(now: number): TftpTransferAction[] {
    if (this.#phase !== 'idle') return [];
    this.#startedAt = now;
    this.#progressAt = now;
    if (this.#config.optionAck.length > 0) {
      this.#phase = 'awaiting-option-ack';
      return [{ type: 'send-option-ack', options: this.#config.optionAck }, this.#armTimer(now)];
    }
    this.#phase = 'sending';
    return this.#sendWindowFrom(1, now);
  }

  #ack(wireBlock: number, now: number): TftpTransferAction[] {
    if (this.#phase === 'awaiting-option-ack') {
      // RFC 2347: the client confirms the OACK with ACK 0; anything else is a stray packet.
      if (wireBlock !== 0) return [];
      this.#phase = 'sending';
      return this.#sendWindowFrom(1, now);
    }
    if (this.#phase !== 'sending') return [];
    const block = this.#absoluteBlock(wireBlock);
    if (block === undefined) return [];
    // A repeated ACK of the block before the window is never answered. In lock-step that resend would be the
    // Sorcerer's Apprentice bug (RFC 1123 §4.2.3.1). With windows the copies are echoes: EDK2 ACKs its last
    // in-order block once for every out-of-order DATA, so after a gap or a resent window the same ACK arrives
    // up to windowsize − 1 more times, and resending on each would send every later window twice. A window
    // whose first block was really lost is resent by the timer.
    if (block === this.#windowStart - 1) return [];
    if (block === this.#totalBlocks) return this.#finish({ kind: 'completed' }, now);
    // Either the whole window arrived, or (RFC 7440 §4) the client saw a gap after `block` and asks us to
    // go on from the block after it. Both start a fresh full window there; EDK2 counts a full window of
    // DATA before it ACKs again, so a shorter one would stall it until its timeout.
    return this.#sendWindowFrom(block + 1, now);
  }

  /** Maps a 16-bit ACK number to the absolute block in [windowStart − 1, windowEnd] it can refer to. */
  #absoluteBlock(wireBlock: number): number | undefined {
    const lowest = this.#windowStart - 1;
    const block = lowest + ((wireBlock - lowest) & 0xffff);
    return block <= this.#windowEnd ? block : undefined;
  }

  #clientError(code: number, message: string, now: number): TftpTransferAction[] {
    if (this.#phase === 'idle' || this.#phase === 'done') return [];
    if (this.#phase === 'awaiting-option-ack' && code === TftpErrorCode.OptionNegotiationFailed) {
      return this.#finish({ kind: 'options-declined', message }, now);
    }
    return this.#finish({ kind: 'client-error', code, message }, now);
  }

  #timerFired(now: number): TftpTransferAction[] {
    if (this.#phase !== 'awaiting-option-ack' && this.#phase !== 'sending') return [];
    // A timer that fires early (a late callback of a replaced timer) is re-armed for the time that is left.
    if (now < this.#deadline) return [{ type: 'arm-timer', delayMs: this.#deadline - now }];
    if (this.#retries >= this.#config.maxRetries || now >= this.#idleDeadline()) {
      return [
        { type: 'send-error', code: TftpErrorCode.NotDefined, message: 'Transfer timed out' },
        ...this.#finish({ kind: 'timed-out', retries: this.#retries }, now),
      ];
    }
    this.#retries += 1;
    if (this.#phase === 'awaiting-option-ack') {
      this.#retransmissions += 1;
      return [{ type: 'send-option-ack', options: this.#config.optionAck }, this.#armTimer(now)];
    }
    this.#retransmissions += this.#windowEnd - this.#windowStart + 1;
    return [...this.#dataActions(this.#windowStart, this.#windowEnd), this.#armTimer(now)];
  }

  /** Starts a new window at `first`: progress, so the retry budget is refilled. */
  #sendWindowFrom(first: number, now: number): TftpTransferAction[] {
    this.#windowStart = first;
    this.#windowEnd = Math.min(first + this.#config.windowSize - 1, this.#totalBlocks);
    this.#retries = 0;
    this.#progressAt = now;
    return [...this.#dataActions(this.#windowStart, this.#windowEnd), this.#armTimer(now)];
  }

  #dataActions(first: number, last: number): TftpTransferAction[] {
    const { blockSize, fileSize } = this.#config;
    const actions: TftpTransferAction[] = [];
    for (let block = first; block <= last; block++) {
      const position = (block - 1) * blockSize;
      actions.push({ type: 'send-data', block: block & 0xffff, position, length: Math.min(blockSize, fileSize - position) });
    }
    return actions;
  }

  /** Arms the retransmit timer with backoff, but never past the idle deadline, where the transfer ends. */
  #armTimer(now: number): TftpTransferAction {
    const factor = Math.min(2 ** this.#retries, maxBackoffFactor);
    const delayMs = Math.max(0, Math.min(this.#config.retransmitTimeoutMs * factor, this.#idleDeadline() - now));
    this.#deadline = now + delayMs;
    return { type: 'arm-timer', delayMs };
  }

  #idleDeadline(): number {
    return this.#progressAt + (this.#config.idleTimeoutMs ?? tftpDefaultIdleTimeoutMs);
  }

  #finish(outcome: TftpTransferOutcome, now: number): TftpTransferAction[] {
    this.#phase = 'done';
    const acknowledgedBlocks = outcome.kind === 'completed' ? this.#totalBlocks : this.#windowStart - 1;
    const bytesAcknowledged = Math.min(acknowledgedBlocks * this.#config.blockSize, this.#config.fileSize);
    return [{ type: 'finish', summary: { outcome, bytesAcknowledged, durationMs: now - this.#startedAt, retransmissions: this.#retransmissions } }];
  }
}
