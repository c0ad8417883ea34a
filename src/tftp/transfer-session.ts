// One running TFTP read: drives a TftpReadTransfer over the transfer's own socket and open file, and frees both.
import type { RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  decodeTftpPacket,
  encodeTftpPacket,
  TftpDecodeError,
  TftpErrorCode,
  TftpOpcode,
  tftpOpcodeName,
  writeTftpDataHeader,
  type TftpPacket,
} from './codec.ts';
import { tftpLoggedTextLength } from './request.ts';
import type { TftpReadTransfer, TftpTransferAction, TftpTransferInput, TftpTransferSummary } from './transfer.ts';

/** An open file a transfer reads blocks from; it is closed when the transfer ends. */
export interface TftpFile {
  size: number;
  /** Returns `length` bytes from `position` (fewer only past the end of the file). */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Where a TFTP client is: address and UDP port (its transfer ID). */
export interface TftpClient {
  address: string;
  port: number;
}

/** "address:port": a client's transfer ID, the key of its transfer slot and its name in logs. */
export function tftpClientName(client: TftpClient): string {
  return `${client.address}:${client.port}`;
}

/** How a session ended: the machine's own end, or a file read that failed on the server. */
export type TftpSessionEnd = { kind: 'finished'; summary: TftpTransferSummary } | { kind: 'server-error'; error: unknown };

/** Everything a session runs with, all of it open and negotiated before the session exists. */
export interface TftpSessionOptions {
  client: TftpClient;
  /** The requested path, for log lines. */
  path: string;
  /** The transfer's own socket, bound to a fresh port (the server's transfer ID). */
  socket: Socket;
  file: TftpFile;
  /** The state machine, configured with the negotiated block and window sizes. */
  machine: TftpReadTransfer;
  log: Logger;
  /** Called once when the transfer ends by itself (not on close()), before the file is closed. */
  onEnd: (end: TftpSessionEnd) => void;
}

/**
 * What the session does with an input for the machine:
 * - `ready`: hands it over at once, and goes to `reading` when the DATA the machine asks for is not cached;
 * - `reading`: a file read is under way and the input waits in the backlog; the read's end performs the actions
 *   that waited for it, replays the backlog in arrival order and goes back to `ready`;
 * - `ended`: drops it. Every state goes to `ended` on the machine's finish action, a failed read, or close().
 */
type SessionState = 'ready' | 'reading' | 'ended';

// Read ahead in one file read: at least this much, at least one window.
const readAheadBytes = 128 * 1024;
const nothingCached = { position: 0, bytes: new Uint8Array(0) };

/** Drives one read transfer: feeds it the client's packets and its timer, performs its actions, and frees everything at the end. */
export class TftpTransferSession {
  readonly #client: TftpClient;
  readonly #name: string;
  readonly #path: string;
  readonly #socket: Socket;
  readonly #file: TftpFile;
  readonly #machine: TftpReadTransfer;
  readonly #log: Logger;
  readonly #onEnd: (end: TftpSessionEnd) => void;
  #state: SessionState = 'ready';
  /** Inputs that arrived during a file read, handled after it in arrival order. */
  readonly #backlog: TftpTransferInput[] = [];
  /** The last file read, kept so retransmits and the next windows need no new read. */
  #cache: { position: number; bytes: Uint8Array } = nothingCached;
  /** The transfer's one timer; none until the machine first arms it (its first actions always do). */
  #timer: NodeJS.Timeout | undefined;
  #timerDelayMs = 0;
  /** ERROR packets handed to the socket and not yet sent; the socket closes only when this is 0. */
  #pendingSends = 0;

  constructor(options: TftpSessionOptions) {
    this.#client = options.client;
    this.#name = tftpClientName(options.client);
    this.#path = options.path;
    this.#socket = options.socket;
    this.#file = options.file;
    this.#machine = options.machine;
    this.#log = options.log;
    this.#onEnd = options.onEnd;
    this.#socket.on('error', (error) => this.#log.warn({ err: error, client: this.#name, file: this.#path }, 'TFTP transfer socket error'));
    this.#socket.on('message', (message, remote) => this.#onPacket(message, remote));
  }

  /** Sends the OACK or the first window; `now` is when the request arrived, where the transfer's duration starts. */
  start(now: number): void {
    this.#deliver({ type: 'start', now });
  }

  /** Aborts the transfer without an end report, and resolves once its file is closed; safe to call more than once. */
  close(): Promise<void> {
    return this.#release();
  }

  #onPacket(message: Buffer, remote: RemoteInfo): void {
    if (this.#state === 'ended') return;
    if (remote.address !== this.#client.address || remote.port !== this.#client.port) {
      // RFC 1350 §4: a packet from another TID gets ERROR 5 and must not disturb the transfer.
      this.#log.debug({ client: this.#name, from: `${remote.address}:${remote.port}` }, 'TFTP packet from an unknown transfer ID');
      const rebuff = encodeTftpPacket({ opcode: TftpOpcode.Error, code: TftpErrorCode.UnknownTransferId, message: 'Unknown transfer ID' });
      this.#sendLast(rebuff, remote.port, remote.address);
      return;
    }
    let packet: TftpPacket;
    try {
      packet = decodeTftpPacket(message);
    } catch (error) {
      if (!(error instanceof TftpDecodeError)) throw error;
      this.#log.debug({ client: this.#name, code: error.code, offset: error.offset }, 'TFTP dropped an undecodable packet');
      return;
    }
    const now = performance.now();
    if (packet.opcode === TftpOpcode.Ack) this.#deliver({ type: 'ack', block: packet.block, now });
    else if (packet.opcode === TftpOpcode.Error) this.#deliver({ type: 'error', code: packet.code, message: packet.message.slice(0, tftpLoggedTextLength), now });
    else this.#log.debug({ client: this.#name, opcode: tftpOpcodeName(packet.opcode) }, 'TFTP ignored an unexpected packet');
  }

  /**
   * Feeds one input to the machine. When the DATA it asks for is cached (the common case: the read-ahead covers
   * many windows) everything happens synchronously; otherwise the actions wait for one file read and later inputs
   * wait behind them, so packets always leave in the machine's order.
   */
  #deliver(input: TftpTransferInput): void {
    switch (this.#state) {
      case 'ended':
        return;
      case 'reading':
        this.#backlog.push(input);
        return;
      case 'ready': {
        const actions = this.#machine.handle(input);
        const missing = this.#uncachedRange(actions);
        if (missing === undefined) {
          this.#performAll(actions);
          return;
        }
        this.#state = 'reading';
        this.#readAhead(missing).then(
          (cache) => this.#readDone(cache, actions),
          (error: unknown) => this.#fail(error),
        );
      }
    }
  }

  #readDone(cache: { position: number; bytes: Uint8Array }, actions: TftpTransferAction[]): void {
    if (this.#state !== 'reading') return;
    this.#state = 'ready';
    this.#cache = cache;
    this.#performAll(actions);
    // Replay what waited, until an input starts another read (the rest keep waiting behind it) or ends the transfer.
    while (this.#state === 'ready') {
      const next = this.#backlog.shift();
      if (next === undefined) break;
      this.#deliver(next);
    }
  }

  /** The file range the DATA packets of this batch need and the cache lacks, or undefined when all is cached. */
  #uncachedRange(actions: TftpTransferAction[]): { start: number; end: number } | undefined {
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (const action of actions) {
      if (action.type !== 'send-data' || action.length === 0) continue;
      start = Math.min(start, action.position);
      end = Math.max(end, action.position + action.length);
    }
    if (end === 0) return undefined;
    const cache = this.#cache;
    if (cache.position <= start && end <= cache.position + cache.bytes.length) return undefined;
    return { start, end };
  }

  /** Reads the missing range and more (read-ahead) in one call, so most windows need no read at all. */
  async #readAhead(range: { start: number; end: number }): Promise<{ position: number; bytes: Uint8Array }> {
    const length = Math.min(Math.max(range.end - range.start, readAheadBytes), this.#file.size - range.start);
    const bytes = await this.#file.read(range.start, length);
    if (bytes.length < range.end - range.start) {
      throw new Error(`short read: ${bytes.length} of ${range.end - range.start} bytes at ${range.start} (file shrank?)`);
    }
    return { position: range.start, bytes };
  }

  #performAll(actions: TftpTransferAction[]): void {
    for (const action of actions) {
      if (this.#state === 'ended') return;
      this.#perform(action);
    }
  }

  #perform(action: TftpTransferAction): void {
    const { address, port } = this.#client;
    switch (action.type) {
      case 'send-data': {
        const packet = Buffer.allocUnsafe(4 + action.length);
        writeTftpDataHeader(packet, action.block);
        if (action.length > 0) {
          const from = action.position - this.#cache.position;
          packet.set(this.#cache.bytes.subarray(from, from + action.length), 4);
        }
        this.#socket.send(packet, port, address);
        break;
      }
      case 'send-option-ack':
        this.#socket.send(encodeTftpPacket({ opcode: TftpOpcode.OptionAck, options: action.options }), port, address);
        break;
      case 'send-error':
        this.#sendLast(encodeTftpPacket({ opcode: TftpOpcode.Error, code: action.code, message: action.message }), port, address);
        break;
      case 'arm-timer':
        // Re-arming with the same delay (every window of a healthy transfer) restarts the existing timer.
        if (this.#timer !== undefined && this.#timerDelayMs === action.delayMs) this.#timer.refresh();
        else {
          clearTimeout(this.#timer);
          this.#timer = setTimeout(() => this.#deliver({ type: 'timer-fired', now: performance.now() }), action.delayMs);
          this.#timerDelayMs = action.delayMs;
        }
        break;
      case 'finish':
        void this.#end({ kind: 'finished', summary: action.summary });
        break;
    }
  }

  /** A file read failed: the client gets ERROR 0 and the transfer ends. */
  #fail(error: unknown): void {
    if (this.#state === 'ended') return;
    const { address, port } = this.#client;
    this.#sendLast(encodeTftpPacket({ opcode: TftpOpcode.Error, code: TftpErrorCode.NotDefined, message: 'Server error' }), port, address);
    void this.#end({ kind: 'server-error', error });
  }

  /** Sends an ERROR that may be the transfer's last packet: the socket stays open until it has left. */
  #sendLast(packet: Uint8Array, port: number, address: string): void {
    this.#pendingSends += 1;
    this.#socket.send(packet, port, address, this.#onSent);
  }

  readonly #onSent = (error: Error | null): void => {
    this.#pendingSends -= 1;
    if (error) this.#log.warn({ err: error, client: this.#name, file: this.#path }, 'TFTP could not send a packet');
    // The last ERROR of a transfer is still queued when it ends: closing earlier would drop it.
    if (this.#state === 'ended' && this.#pendingSends === 0) this.#socket.close();
  };

  #end(end: TftpSessionEnd): Promise<void> {
    this.#onEnd(end);
    return this.#release();
  }

  /** Frees the timer, the socket (once its last ERROR has left) and the file; safe to call more than once. */
  async #release(): Promise<void> {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cache = nothingCached;
    this.#backlog.length = 0;
    if (this.#pendingSends === 0) this.#socket.close();
    try {
      await this.#file.close();
    } catch (error) {
      this.#log.warn({ err: error, file: this.#path }, 'TFTP could not close a file');
    }
  }
}
