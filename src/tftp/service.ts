// The TFTP server: owns the sockets, timers and open files, and drives one TftpReadTransfer per request.
import type { RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { createLogSummary, describeCounts, type SummaryTimer } from '../events/log-summary.ts';
import type { BootEventSink, TftpOutcome } from '../events/model.ts';
import { openUdpSocket } from '../net/udp.ts';
import {
  decodeTftpPacket,
  encodeTftpPacket,
  TftpDecodeError,
  TftpErrorCode,
  tftpErrorCodeName,
  TftpOpcode,
  tftpOpcodeName,
  writeTftpDataHeader,
  type TftpOption,
  type TftpPacket,
} from './codec.ts';
import { negotiateTftpOptions } from './negotiate.ts';
import { screenTftpRequest } from './request.ts';
import { TftpReadTransfer, tftpDefaultIdleTimeoutMs, type TftpTransferAction, type TftpTransferEvent, type TftpTransferSummary } from './transfer.ts';

/** An open file the service reads blocks from; the service closes it when the transfer ends. */
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

/** Opens the file a client asked for (path already normalised); undefined answers "File not found" at once. */
export type TftpFileSource = (path: string, client: TftpClient) => Promise<TftpFile | undefined>;

/** What createTftpService needs. */
export interface TftpServiceOptions {
  address: string;
  /** 69 in production, 0 in tests (any free port). */
  port: number;
  /**
   * Address the per-transfer sockets bind to; default `address`. With the listener on 0.0.0.0, binding the
   * transfers to the serving address makes replies come from the address clients were given as next-server,
   * which firmware checks, instead of whatever source address the routing table picks on a multi-homed host.
   */
  transferAddress?: string;
  files: TftpFileSource;
  log: Logger;
  /** Transfers at once; more are refused with "Server busy". Default 64. */
  maxTransfers?: number;
  /** Transfers at once from one client address, except this host's own; more are refused with "Server busy". Default 8. */
  maxTransfersPerAddress?: number;
  /** A transfer without progress for this long is dropped, whatever the client does; default 30 000 ms. */
  idleTimeoutMs?: number;
  /** Largest blksize granted; default 1468 fits a 1500-byte Ethernet MTU. */
  maxBlockSize?: number;
  /** Largest RFC 7440 windowsize granted; default 16. */
  maxWindowSize?: number;
  /** First retransmit wait when the client does not negotiate one; default 1000 ms. */
  retransmitTimeoutMs?: number;
  /** Retransmissions before a silent client's transfer is dropped; default 5. */
  maxRetries?: number;
  /** Where every transfer's end is reported as a boot event (the dashboard, metrics); optional. */
  events?: BootEventSink;
  /** Timer of the once-a-minute info summary; tests pass a fake. */
  summaryTimer?: SummaryTimer;
}

/** A running TFTP service. */
export interface TftpService {
  /** The bound port (useful when the service was asked for port 0). */
  port: number;
  /** Transfers holding state right now, including those still opening their file. */
  activeTransfers(): number;
  /** Stops listening, aborts every transfer and closes its socket and file. */
  close(): Promise<void>;
}

/** Per-transfer state; removed from the service's map on completion, timeout, error and close. */
interface Transfer {
  client: TftpClient;
  path: string;
  socket: Socket | undefined;
  file: TftpFile | undefined;
  machine: TftpReadTransfer | undefined;
  blockSize: number;
  windowSize: number;
  timer: NodeJS.Timeout | undefined;
  timerDelayMs: number;
  /** True while a file read is under way; events that arrive meanwhile wait in `backlog`, in order. */
  reading: boolean;
  backlog: TftpTransferEvent[];
  /** The last file read, kept so retransmits and the next windows need no new read. */
  cache: { position: number; bytes: Uint8Array } | undefined;
  /** ERROR packets handed to the socket and not yet sent; the socket closes only when this is 0. */
  pendingSends: number;
  onSent: (error: Error | null) => void;
  ended: boolean;
  /** performance.now() when the request arrived, for the duration of transfers that never started. */
  requestedAt: number;
}

// Read ahead in one file read: at least this much, at least one window.
const readAheadBytes = 128 * 1024;
// Untrusted names are logged, but never more than this much of them.
const loggedNameLength = 128;
// A PC fetches one file at a time: UEFI's size probe ends before its download starts, iPXE loads one file after
// another. A machine that resets mid-boot leaves its old transfers running until their idle timeout, so a few
// boots in a row can overlap; 8 covers that with room to spare, and it takes 8 addresses to fill 64 slots.
const defaultMaxTransfersPerAddress = 8;

/** Starts the TFTP service on address:port; rejects with BindError when the port cannot be opened. */
export async function createTftpService(options: TftpServiceOptions): Promise<TftpService> {
  const { log, files } = options;
  const maxTransfers = options.maxTransfers ?? 64;
  const maxTransfersPerAddress = options.maxTransfersPerAddress ?? defaultMaxTransfersPerAddress;
  const idleTimeoutMs = options.idleTimeoutMs ?? tftpDefaultIdleTimeoutMs;
  // Requests from our own serving address come from this host (Linux drops packets from the network that claim a
  // local source address), e.g. the bench's 64-client storm: only the total cap applies to them.
  const ownAddress = options.transferAddress ?? options.address;
  const limits = { maxBlockSize: options.maxBlockSize ?? 1468, maxWindowSize: options.maxWindowSize ?? 16 };
  const retransmitTimeoutMs = options.retransmitTimeoutMs ?? 1000;
  const maxRetries = options.maxRetries ?? 5;
  const transfers = new Map<string, Transfer>();
  const transfersByAddress = new Map<string, number>();
  let closed = false;
  // Every request and every transfer's end is a debug line; anyone can trigger those by the thousand, so info
  // gets one summary a minute (issue 14: a flood became 2.4 MB of info log).
  const summary = createLogSummary({
    timer: options.summaryTimer,
    report: ({ counts, clients, clientsCapped }) =>
      log.info({ counts, clients }, `TFTP in the last minute: ${describeCounts(counts)} for ${clientsCapped ? 'at least ' : ''}${clients} clients`),
  });

  /** Takes a slot for the transfer, in total and for its client's address. */
  const admit = (key: string, transfer: Transfer): void => {
    transfers.set(key, transfer);
    const address = transfer.client.address;
    transfersByAddress.set(address, (transfersByAddress.get(address) ?? 0) + 1);
  };
  /** Gives the transfer's slot back; safe to call more than once. */
  const forget = (transfer: Transfer): void => {
    const key = clientName(transfer.client);
    if (transfers.get(key) !== transfer) return;
    transfers.delete(key);
    const address = transfer.client.address;
    const left = (transfersByAddress.get(address) ?? 1) - 1;
    if (left === 0) transfersByAddress.delete(address);
    else transfersByAddress.set(address, left);
  };

  const listener = await openUdpSocket({ service: 'TFTP', address: options.address, port: options.port });
  listener.on('error', (error) => log.error({ err: error }, 'TFTP listening socket error'));
  listener.on('message', (message, remote) => {
    void onRequest(message, remote).catch((error: unknown) => log.error({ err: error }, 'TFTP request handling failed'));
  });

  /** Refusals go out from the listening port: no transfer socket exists for them (and none is wasted on them). */
  const refuse = (to: TftpClient, code: number, message: string): void => {
    if (closed) return;
    listener.send(encodeTftpPacket({ opcode: TftpOpcode.Error, code, message }), to.port, to.address);
  };

  async function onRequest(message: Buffer, remote: RemoteInfo): Promise<void> {
    const client = { address: remote.address, port: remote.port };
    let packet: TftpPacket;
    try {
      packet = decodeTftpPacket(message);
    } catch (error) {
      if (!(error instanceof TftpDecodeError)) throw error;
      log.debug({ client: clientName(client), code: error.code, offset: error.offset }, 'TFTP dropped an undecodable request');
      return;
    }
    if (packet.opcode !== TftpOpcode.ReadRequest && packet.opcode !== TftpOpcode.WriteRequest) {
      log.debug({ client: clientName(client), opcode: tftpOpcodeName(packet.opcode) }, 'TFTP ignored a non-request packet on the request port');
      return;
    }
    const requested = packet.filename.slice(0, loggedNameLength);
    const screened = screenTftpRequest(packet);
    if (screened.kind === 'refuse') {
      log.debug({ client: clientName(client), file: requested, reason: screened.reason }, 'TFTP refused a request');
      summary.note('refused', client.address);
      refuse(client, screened.code, screened.message);
      return;
    }
    const key = clientName(client);
    // A client that did not hear our OACK or first DATA resends its RRQ from the same port; the running
    // transfer's retransmit answers it, a second transfer would only race the first.
    if (transfers.has(key)) {
      log.debug({ client: key, file: screened.path }, 'TFTP ignored a repeated request of a running transfer');
      return;
    }
    // No RFC 1350 code means "busy"; 0 ("not defined, see message") is the honest one. 3 ("disk full or
    // allocation exceeded") would make clients report a full disk.
    if (transfers.size >= maxTransfers) {
      log.debug({ client: key, file: screened.path, maxTransfers }, 'TFTP refused a request: too many transfers at once');
      summary.note('busy', client.address);
      refuse(client, TftpErrorCode.NotDefined, 'Server busy, try again later');
      return;
    }
    if (client.address !== ownAddress && (transfersByAddress.get(client.address) ?? 0) >= maxTransfersPerAddress) {
      log.debug({ client: key, file: screened.path, maxTransfersPerAddress }, 'TFTP refused a request: too many transfers from this address');
      summary.note('over the per-address cap', client.address);
      refuse(client, TftpErrorCode.NotDefined, 'Server busy, try again later');
      return;
    }
    const transfer: Transfer = {
      client,
      path: screened.path,
      socket: undefined,
      file: undefined,
      machine: undefined,
      blockSize: 0,
      windowSize: 0,
      timer: undefined,
      timerDelayMs: 0,
      reading: false,
      backlog: [],
      cache: undefined,
      pendingSends: 0,
      onSent: (error) => {
        transfer.pendingSends -= 1;
        if (error) log.warn({ err: error, client: key, file: transfer.path }, 'TFTP could not send a packet');
        // The last ERROR of a transfer is still queued when it ends: closing earlier would drop it.
        if (transfer.ended && transfer.pendingSends === 0) transfer.socket?.close();
      },
      ended: false,
      requestedAt: performance.now(),
    };
    admit(key, transfer);
    const loggedOptions = packet.options.slice(0, 8).map((option) => `${option.name.slice(0, 32)}=${option.value.slice(0, 32)}`);
    log.debug({ client: key, file: screened.path, options: loggedOptions }, 'TFTP read request');
    await open(transfer, packet.options);
  }

  async function open(transfer: Transfer, requestedOptions: readonly TftpOption[]): Promise<void> {
    const startedAt = performance.now();
    const key = clientName(transfer.client);
    const address = transfer.client.address;
    let file: TftpFile | undefined;
    try {
      file = await files(transfer.path, transfer.client);
    } catch (error) {
      forget(transfer);
      log.error({ err: error, client: key, file: transfer.path }, 'TFTP file source failed');
      refuse(transfer.client, TftpErrorCode.NotDefined, 'Could not open file');
      return;
    }
    if (closed || transfer.ended) {
      forget(transfer);
      await file?.close();
      return;
    }
    if (file === undefined) {
      forget(transfer);
      // Answer at once: iPXE 2.0 EFI asks for autoexec.ipxe and would wait 30 s for an answer that never comes.
      log.debug({ client: key, file: transfer.path, outcome: 'file-not-found' }, 'TFTP file not found');
      summary.note('file-not-found', address);
      report(transfer, 'file-not-found', { bytesAcknowledged: 0, durationMs: performance.now() - transfer.requestedAt, retransmissions: 0 });
      refuse(transfer.client, TftpErrorCode.FileNotFound, 'File not found');
      return;
    }
    transfer.file = file;
    const negotiation = negotiateTftpOptions(requestedOptions, file.size, limits);
    let socket: Socket;
    try {
      // A new socket per transfer: its port is the server's transfer ID (RFC 1350 §4).
      socket = await openUdpSocket({ service: 'TFTP transfer', address: options.transferAddress ?? options.address, port: 0 });
    } catch (error) {
      log.error({ err: error, client: key, file: transfer.path }, 'TFTP could not open a transfer socket');
      refuse(transfer.client, TftpErrorCode.NotDefined, 'Server error');
      await release(transfer);
      return;
    }
    if (transfer.ended) {
      // close() ran while the socket was opening and has already closed the file.
      socket.close();
      return;
    }
    transfer.socket = socket;
    socket.on('error', (error) => log.warn({ err: error, client: key, file: transfer.path }, 'TFTP transfer socket error'));
    socket.on('message', (message, remote) => onTransferPacket(transfer, message, remote));
    transfer.blockSize = negotiation.parameters.blockSize;
    transfer.windowSize = negotiation.parameters.windowSize;
    transfer.machine = new TftpReadTransfer({
      fileSize: file.size,
      blockSize: negotiation.parameters.blockSize,
      windowSize: negotiation.parameters.windowSize,
      optionAck: negotiation.acknowledged,
      retransmitTimeoutMs: negotiation.parameters.timeoutMs ?? retransmitTimeoutMs,
      maxRetries,
      idleTimeoutMs,
    });
    deliver(transfer, { type: 'start', now: startedAt });
  }

  function onTransferPacket(transfer: Transfer, message: Buffer, remote: RemoteInfo): void {
    const socket = transfer.socket;
    if (socket === undefined || transfer.ended) return;
    if (remote.address !== transfer.client.address || remote.port !== transfer.client.port) {
      // RFC 1350 §4: a packet from another TID gets ERROR 5 and must not disturb the transfer.
      log.debug({ client: clientName(transfer.client), from: `${remote.address}:${remote.port}` }, 'TFTP packet from an unknown transfer ID');
      const rebuff = encodeTftpPacket({ opcode: TftpOpcode.Error, code: TftpErrorCode.UnknownTransferId, message: 'Unknown transfer ID' });
      sendLast(transfer, socket, rebuff, remote.port, remote.address);
      return;
    }
    let packet: TftpPacket;
    try {
      packet = decodeTftpPacket(message);
    } catch (error) {
      if (!(error instanceof TftpDecodeError)) throw error;
      log.debug({ client: clientName(transfer.client), code: error.code, offset: error.offset }, 'TFTP dropped an undecodable packet');
      return;
    }
    const now = performance.now();
    if (packet.opcode === TftpOpcode.Ack) deliver(transfer, { type: 'ack', block: packet.block, now });
    else if (packet.opcode === TftpOpcode.Error) deliver(transfer, { type: 'error', code: packet.code, message: packet.message.slice(0, loggedNameLength), now });
    else log.debug({ client: clientName(transfer.client), opcode: tftpOpcodeName(packet.opcode) }, 'TFTP ignored an unexpected packet');
  }

  /**
   * Feeds one event to the transfer's state machine. When the DATA it asks for is cached (the common case:
   * the read-ahead covers many windows) everything happens synchronously; otherwise the actions wait for one
   * file read and later events wait behind them, so packets always leave in the machine's order.
   */
  function deliver(transfer: Transfer, event: TftpTransferEvent): void {
    const machine = transfer.machine;
    if (transfer.ended || machine === undefined) return;
    if (transfer.reading) {
      transfer.backlog.push(event);
      return;
    }
    const actions = machine.handle(event);
    const missing = uncachedRange(transfer, actions);
    if (missing === undefined) {
      performAll(transfer, actions);
      return;
    }
    transfer.reading = true;
    readAhead(transfer, missing).then(
      () => {
        transfer.reading = false;
        performAll(transfer, actions);
        const backlog = transfer.backlog.splice(0);
        for (const [index, later] of backlog.entries()) {
          deliver(transfer, later);
          // A later event may start another read: keep the rest behind it, in order.
          if (transfer.reading) {
            transfer.backlog.push(...backlog.slice(index + 1));
            break;
          }
        }
      },
      (error: unknown) => failOnServer(transfer, error),
    );
  }

  function performAll(transfer: Transfer, actions: TftpTransferAction[]): void {
    for (const action of actions) {
      if (transfer.ended) return;
      perform(transfer, action);
    }
  }

  /** The file range the DATA packets of this batch need and the cache lacks, or undefined when all is cached. */
  function uncachedRange(transfer: Transfer, actions: TftpTransferAction[]): { start: number; end: number } | undefined {
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (const action of actions) {
      if (action.type !== 'send-data' || action.length === 0) continue;
      start = Math.min(start, action.position);
      end = Math.max(end, action.position + action.length);
    }
    if (end === 0) return undefined;
    const cache = transfer.cache;
    if (cache !== undefined && cache.position <= start && end <= cache.position + cache.bytes.length) return undefined;
    return { start, end };
  }

  /** Reads the missing range and more (read-ahead) in one call, so most windows need no read at all. */
  async function readAhead(transfer: Transfer, range: { start: number; end: number }): Promise<void> {
    const file = transfer.file;
    if (file === undefined) throw new Error('transfer has no open file');
    const length = Math.min(Math.max(range.end - range.start, readAheadBytes), file.size - range.start);
    const bytes = await file.read(range.start, length);
    if (bytes.length < range.end - range.start) {
      throw new Error(`short read: ${bytes.length} of ${range.end - range.start} bytes at ${range.start} (file shrank?)`);
    }
    transfer.cache = { position: range.start, bytes };
  }

  function failOnServer(transfer: Transfer, error: unknown): void {
    log.error({ err: error, client: clientName(transfer.client), file: transfer.path }, 'TFTP transfer failed on the server');
    if (!transfer.ended) report(transfer, 'server-error', { bytesAcknowledged: 0, durationMs: performance.now() - transfer.requestedAt, retransmissions: 0 });
    const socket = transfer.socket;
    if (socket && !transfer.ended) {
      const { address, port } = transfer.client;
      sendLast(transfer, socket, encodeTftpPacket({ opcode: TftpOpcode.Error, code: TftpErrorCode.NotDefined, message: 'Server error' }), port, address);
    }
    void release(transfer);
  }

  function perform(transfer: Transfer, action: TftpTransferAction): void {
    const socket = transfer.socket;
    if (socket === undefined) return;
    const { address, port } = transfer.client;
    switch (action.type) {
      case 'send-data': {
        const packet = Buffer.allocUnsafe(4 + action.length);
        writeTftpDataHeader(packet, action.block);
        const cache = transfer.cache;
        if (action.length > 0 && cache !== undefined) {
          const from = action.position - cache.position;
          packet.set(cache.bytes.subarray(from, from + action.length), 4);
        }
        socket.send(packet, port, address);
        break;
      }
      case 'send-option-ack':
        socket.send(encodeTftpPacket({ opcode: TftpOpcode.OptionAck, options: action.options }), port, address);
        break;
      case 'send-error':
        sendLast(transfer, socket, encodeTftpPacket({ opcode: TftpOpcode.Error, code: action.code, message: action.message }), port, address);
        break;
      case 'arm-timer':
        // Re-arming with the same delay (every window of a healthy transfer) restarts the existing timer.
        if (transfer.timer !== undefined && transfer.timerDelayMs === action.delayMs) transfer.timer.refresh();
        else {
          clearTimeout(transfer.timer);
          transfer.timer = setTimeout(() => deliver(transfer, { type: 'timer-fired', now: performance.now() }), action.delayMs);
          transfer.timerDelayMs = action.delayMs;
        }
        break;
      case 'finish':
        logEnd(transfer, action.summary);
        void release(transfer);
        break;
    }
  }

  /** Sends an ERROR that may be the transfer's last packet: the socket stays open until it has left. */
  function sendLast(transfer: Transfer, socket: Socket, packet: Uint8Array, port: number, address: string): void {
    transfer.pendingSends += 1;
    socket.send(packet, port, address, transfer.onSent);
  }

  /** Reports the end of a transfer to the event sink, if there is one. */
  function report(transfer: Transfer, outcome: TftpOutcome, summary: Pick<TftpTransferSummary, 'bytesAcknowledged' | 'durationMs' | 'retransmissions'>): void {
    options.events?.emit({
      kind: 'tftp-transfer',
      ip: transfer.client.address,
      file: transfer.path.slice(0, loggedNameLength),
      blockSize: transfer.blockSize,
      windowSize: transfer.windowSize,
      bytes: summary.bytesAcknowledged,
      durationMs: Math.round(summary.durationMs),
      retransmissions: summary.retransmissions,
      outcome,
    });
  }

  function logEnd(transfer: Transfer, end: TftpTransferSummary): void {
    const { outcome } = end;
    report(transfer, outcome.kind, end);
    summary.note(outcome.kind, transfer.client.address);
    const fields = {
      client: clientName(transfer.client),
      file: transfer.path,
      blksize: transfer.blockSize,
      windowsize: transfer.windowSize,
      bytes: end.bytesAcknowledged,
      durationMs: Math.round(end.durationMs),
      retransmissions: end.retransmissions,
      outcome: outcome.kind,
    };
    // A client that completes or aborts transfers in a loop could flood info, so those are debug lines and the
    // summary counts them. Timeouts stay warnings: at most maxTransfers of them per idle timeout.
    switch (outcome.kind) {
      case 'completed':
        log.debug(fields, 'TFTP transfer completed');
        break;
      case 'options-declined':
        // UEFI asks for tsize, reads the size from the OACK and aborts with ERROR 8: a probe, not a failure.
        log.debug({ ...fields, clientMessage: outcome.message }, 'TFTP client ended after option negotiation (size probe)');
        break;
      case 'client-error':
        log.debug({ ...fields, errorCode: outcome.code, errorName: tftpErrorCodeName(outcome.code), clientMessage: outcome.message }, 'TFTP transfer aborted by the client');
        break;
      case 'timed-out':
        log.warn({ ...fields, retries: outcome.retries }, 'TFTP transfer timed out: the client stopped answering');
        break;
    }
  }

  /** Frees everything a transfer holds; safe to call more than once. */
  async function release(transfer: Transfer): Promise<void> {
    if (transfer.ended) return;
    transfer.ended = true;
    clearTimeout(transfer.timer);
    transfer.timer = undefined;
    transfer.cache = undefined;
    transfer.backlog.length = 0;
    forget(transfer);
    if (transfer.pendingSends === 0) transfer.socket?.close();
    try {
      await transfer.file?.close();
    } catch (error) {
      log.warn({ err: error, file: transfer.path }, 'TFTP could not close a file');
    }
  }

  return {
    port: listener.address().port,
    activeTransfers: () => transfers.size,
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      summary.close();
      await Promise.all([...transfers.values()].map((transfer) => release(transfer)));
    },
  };
}

function clientName(client: TftpClient): string {
  return `${client.address}:${client.port}`;
}
