// The TFTP server: listens for requests, admits them to a bounded number of slots, opens the file and the transfer
// socket, and hands both to a TftpTransferSession.
import type { RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { createLogSummary, describeCounts, type SummaryTimer } from '../events/log-summary.ts';
import type { BootEventSink, TftpOutcome } from '../events/model.ts';
import { openUdpSocket } from '../net/udp.ts';
import { decodeTftpPacket, encodeTftpPacket, TftpDecodeError, TftpErrorCode, tftpErrorCodeName, TftpOpcode, tftpOpcodeName, type TftpOption, type TftpPacket } from './codec.ts';
import { negotiateTftpOptions } from './negotiate.ts';
import { screenTftpRequest, tftpLoggedTextLength } from './request.ts';
import { tftpClientName, TftpTransferSession, type TftpClient, type TftpFile, type TftpSessionEnd } from './transfer-session.ts';
import { TftpReadTransfer, tftpDefaultIdleTimeoutMs, type TftpTransferSummary } from './transfer.ts';

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

/**
 * A transfer slot, taken when a request is admitted and given back when its transfer ends. While the file and the
 * transfer socket are being opened there is nothing to free but the slot; after that the session owns them.
 */
type Slot = { state: 'opening'; client: TftpClient } | { state: 'running'; client: TftpClient; session: TftpTransferSession };

/** What every end-of-transfer log line and boot event names. */
interface TransferLabel {
  client: TftpClient;
  path: string;
  /** The negotiated sizes; 0 for a request that never got that far (file not found). */
  blockSize: number;
  windowSize: number;
}

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
  const transferAddress = options.transferAddress ?? options.address;
  const limits = { maxBlockSize: options.maxBlockSize ?? 1468, maxWindowSize: options.maxWindowSize ?? 16 };
  const retransmitTimeoutMs = options.retransmitTimeoutMs ?? 1000;
  const maxRetries = options.maxRetries ?? 5;
  /** Slots by client name (address:port). */
  const slots = new Map<string, Slot>();
  const slotsByAddress = new Map<string, number>();
  let closed = false;
  // Every request and every transfer's end is a debug line; anyone can trigger those by the thousand, so info
  // gets one summary a minute (issue 14: a flood became 2.4 MB of info log).
  const summary = createLogSummary({
    timer: options.summaryTimer,
    report: ({ counts, clients, clientsCapped }) =>
      log.info({ counts, clients }, `TFTP in the last minute: ${describeCounts(counts)} for ${clientsCapped ? 'at least ' : ''}${clients} clients`),
  });

  /** Takes a slot for a new transfer, in total and for its client's address. */
  const take = (key: string, slot: Slot): void => {
    slots.set(key, slot);
    const address = slot.client.address;
    slotsByAddress.set(address, (slotsByAddress.get(address) ?? 0) + 1);
  };
  /** Gives the slot back, unless it is no longer the one under `key` (close() already freed it). */
  const giveBack = (key: string, slot: Slot): void => {
    if (slots.get(key) !== slot) return;
    slots.delete(key);
    const address = slot.client.address;
    const left = (slotsByAddress.get(address) ?? 1) - 1;
    if (left === 0) slotsByAddress.delete(address);
    else slotsByAddress.set(address, left);
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
    const requestedAt = performance.now();
    const client = { address: remote.address, port: remote.port };
    const key = tftpClientName(client);
    let packet: TftpPacket;
    try {
      packet = decodeTftpPacket(message);
    } catch (error) {
      if (!(error instanceof TftpDecodeError)) throw error;
      log.debug({ client: key, code: error.code, offset: error.offset }, 'TFTP dropped an undecodable request');
      return;
    }
    if (packet.opcode !== TftpOpcode.ReadRequest && packet.opcode !== TftpOpcode.WriteRequest) {
      log.debug({ client: key, opcode: tftpOpcodeName(packet.opcode) }, 'TFTP ignored a non-request packet on the request port');
      return;
    }
    const requested = packet.filename.slice(0, tftpLoggedTextLength);
    const screened = screenTftpRequest(packet);
    if (screened.kind === 'refuse') {
      log.debug({ client: key, file: requested, reason: screened.reason }, 'TFTP refused a request');
      summary.note('refused', client.address);
      refuse(client, screened.code, screened.message);
      return;
    }
    // A client that did not hear our OACK or first DATA resends its RRQ from the same port; the running
    // transfer's retransmit answers it, a second transfer would only race the first.
    if (slots.has(key)) {
      log.debug({ client: key, file: screened.path }, 'TFTP ignored a repeated request of a running transfer');
      return;
    }
    // No RFC 1350 code means "busy"; 0 ("not defined, see message") is the honest one. 3 ("disk full or
    // allocation exceeded") would make clients report a full disk.
    if (slots.size >= maxTransfers) {
      log.debug({ client: key, file: screened.path, maxTransfers }, 'TFTP refused a request: too many transfers at once');
      summary.note('busy', client.address);
      refuse(client, TftpErrorCode.NotDefined, 'Server busy, try again later');
      return;
    }
    // Requests from our own serving address come from this host (Linux drops packets from the network that claim a
    // local source address), e.g. the bench's 64-client storm: only the total cap applies to them.
    if (client.address !== transferAddress && (slotsByAddress.get(client.address) ?? 0) >= maxTransfersPerAddress) {
      log.debug({ client: key, file: screened.path, maxTransfersPerAddress }, 'TFTP refused a request: too many transfers from this address');
      summary.note('over the per-address cap', client.address);
      refuse(client, TftpErrorCode.NotDefined, 'Server busy, try again later');
      return;
    }
    const opening: Slot = { state: 'opening', client };
    take(key, opening);
    const loggedOptions = packet.options.slice(0, 8).map((option) => `${option.name.slice(0, 32)}=${option.value.slice(0, 32)}`);
    log.debug({ client: key, file: screened.path, options: loggedOptions }, 'TFTP read request');
    await open(key, opening, screened.path, packet.options, requestedAt);
  }

  /** Opens the file and the transfer socket of an admitted request and starts its session; or refuses it and gives its slot back. */
  async function open(key: string, opening: Slot, path: string, requestedOptions: readonly TftpOption[], requestedAt: number): Promise<void> {
    const { client } = opening;
    let file: TftpFile | undefined;
    try {
      file = await files(path, client);
    } catch (error) {
      giveBack(key, opening);
      log.error({ err: error, client: key, file: path }, 'TFTP file source failed');
      refuse(client, TftpErrorCode.NotDefined, 'Could not open file');
      return;
    }
    if (closed) {
      giveBack(key, opening);
      await file?.close();
      return;
    }
    if (file === undefined) {
      giveBack(key, opening);
      // Answer at once: iPXE 2.0 EFI asks for autoexec.ipxe and would wait 30 s for an answer that never comes.
      log.debug({ client: key, file: path, outcome: 'file-not-found' }, 'TFTP file not found');
      summary.note('file-not-found', client.address);
      report({ client, path, blockSize: 0, windowSize: 0 }, 'file-not-found', { bytesAcknowledged: 0, durationMs: performance.now() - requestedAt, retransmissions: 0 });
      refuse(client, TftpErrorCode.FileNotFound, 'File not found');
      return;
    }
    const negotiation = negotiateTftpOptions(requestedOptions, file.size, limits);
    let socket: Socket;
    try {
      // A new socket per transfer: its port is the server's transfer ID (RFC 1350 §4).
      socket = await openUdpSocket({ service: 'TFTP transfer', address: transferAddress, port: 0 });
    } catch (error) {
      giveBack(key, opening);
      log.error({ err: error, client: key, file: path }, 'TFTP could not open a transfer socket');
      refuse(client, TftpErrorCode.NotDefined, 'Server error');
      await closeFile(file, path);
      return;
    }
    if (closed) {
      giveBack(key, opening);
      socket.close();
      await closeFile(file, path);
      return;
    }
    const { blockSize, windowSize, timeoutMs } = negotiation.parameters;
    const label: TransferLabel = { client, path, blockSize, windowSize };
    const machine = new TftpReadTransfer({
      fileSize: file.size,
      blockSize,
      windowSize,
      optionAck: negotiation.acknowledged,
      retransmitTimeoutMs: timeoutMs ?? retransmitTimeoutMs,
      maxRetries,
      idleTimeoutMs,
    });
    const onEnd = (end: TftpSessionEnd): void => {
      giveBack(key, running);
      if (end.kind === 'finished') {
        logEnd(label, end.summary);
        return;
      }
      log.error({ err: end.error, client: key, file: path }, 'TFTP transfer failed on the server');
      report(label, 'server-error', { bytesAcknowledged: 0, durationMs: performance.now() - requestedAt, retransmissions: 0 });
    };
    const running: Slot = { state: 'running', client, session: new TftpTransferSession({ client, path, socket, file, machine, log, onEnd }) };
    slots.set(key, running);
    running.session.start(requestedAt);
  }

  async function closeFile(file: TftpFile, path: string): Promise<void> {
    try {
      await file.close();
    } catch (error) {
      log.warn({ err: error, file: path }, 'TFTP could not close a file');
    }
  }

  /** Reports the end of a transfer to the event sink, if there is one. */
  function report(label: TransferLabel, outcome: TftpOutcome, end: Pick<TftpTransferSummary, 'bytesAcknowledged' | 'durationMs' | 'retransmissions'>): void {
    options.events?.emit({
      kind: 'tftp-transfer',
      ip: label.client.address,
      file: label.path.slice(0, tftpLoggedTextLength),
      blockSize: label.blockSize,
      windowSize: label.windowSize,
      bytes: end.bytesAcknowledged,
      durationMs: Math.round(end.durationMs),
      retransmissions: end.retransmissions,
      outcome,
    });
  }

  function logEnd(label: TransferLabel, end: TftpTransferSummary): void {
    const { outcome } = end;
    report(label, outcome.kind, end);
    summary.note(outcome.kind, label.client.address);
    const fields = {
      client: tftpClientName(label.client),
      file: label.path,
      blksize: label.blockSize,
      windowsize: label.windowSize,
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

  return {
    port: listener.address().port,
    activeTransfers: () => slots.size,
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      summary.close();
      // Opening slots close their own file and socket when those arrive: they see `closed`.
      const sessions = [...slots.values()].flatMap((slot) => (slot.state === 'running' ? [slot.session.close()] : []));
      slots.clear();
      slotsByAddress.clear();
      await Promise.all(sessions);
    },
  };
}
