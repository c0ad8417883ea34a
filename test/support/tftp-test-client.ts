// A small TFTP client for integration tests: RFC 1350 reads with RFC 2347 options and an RFC 7440 receiver
// that behaves like EDK2 (ACK the last in-order block on a gap), plus an optional seeded lossy wrapper.
import type { Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openUdpSocket } from '../../src/net/udp.ts';
import { decodeTftpPacket, encodeTftpPacket, TftpOpcode, type TftpOption, type TftpPacket } from '../../src/tftp/codec.ts';
import { openForReading } from '../../src/files/boot-files.ts';
import type { TftpFileSource } from '../../src/tftp/service.ts';
import { seededRandom } from './seeded-random.ts';


/** A client socket that drops a share of the datagrams it sends and of those it receives. */
export interface TestSocket {
  send(packet: Uint8Array, port: number): void;
  /** Resolves with the next datagram that survives, or undefined after timeoutMs. */
  receive(timeoutMs: number): Promise<{ packet: TftpPacket; port: number; address: string } | undefined>;
  /** Closes the socket once every datagram handed to send() has left. */
  close(): Promise<void>;
  /** Datagrams dropped so far, in both directions. */
  dropped(): number;
}

/**
 * Opens a client socket on `address` (default 127.0.0.1; any 127.x.y.z works on Linux loopback, which is how
 * tests play several client machines) that talks to a server on 127.0.0.1; with `loss`, drops that share of
 * datagrams each way, seeded.
 */
export async function openTestSocket(loss?: { rate: number; seed: number }, address = '127.0.0.1'): Promise<TestSocket> {
  const socket: Socket = await openUdpSocket({ service: 'TFTP test client', address, port: 0 });
  const random = seededRandom(loss?.seed ?? 0);
  const drop = () => loss !== undefined && random() < loss.rate;
  let dropped = 0;
  let pending = 0;
  let onDrained: (() => void) | undefined;
  const sent = () => {
    pending -= 1;
    if (pending === 0) onDrained?.();
  };
  type Received = { packet: TftpPacket; port: number; address: string };
  const inbox: Received[] = [];
  let waiter: ((value: Received) => void) | undefined;
  socket.on('message', (message, remote) => {
    if (drop()) {
      dropped += 1;
      return;
    }
    const item = { packet: decodeTftpPacket(message), port: remote.port, address: remote.address };
    if (waiter) {
      const resolve = waiter;
      waiter = undefined;
      resolve(item);
    } else inbox.push(item);
  });
  return {
    send(packet, port) {
      if (drop()) dropped += 1;
      else {
        pending += 1;
        socket.send(packet, port, '127.0.0.1', sent);
      }
    },
    receive(timeoutMs) {
      const next = inbox.shift();
      if (next) return Promise.resolve(next);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve(undefined);
        }, timeoutMs);
        waiter = (value) => {
          clearTimeout(timer);
          resolve(value);
        };
      });
    },
    async close() {
      if (pending > 0) await new Promise<void>((resolve) => (onDrained = resolve));
      socket.close();
    },
    dropped: () => dropped,
  };
}

/** What a test read asks for. */
export interface TestGet {
  port: number;
  file: string;
  options?: TftpOption[];
  /** Send ERROR 8 on the OACK instead of ACK 0, as UEFI does after its tsize probe. */
  abortAfterOptionAck?: boolean;
  loss?: { rate: number; seed: number };
  timeoutMs?: number;
  retries?: number;
  /** After the last ACK, keep answering resent DATA for this long (our last ACK may have been lost). */
  dallyMs?: number;
  /** The client's own address; default 127.0.0.1. */
  from?: string;
}

/** What a test read got. */
export interface TestGetResult {
  data: Buffer;
  optionAck: TftpOption[] | undefined;
  /** The server's transfer port (its TID). */
  serverPort: number;
  dropped: number;
}

/** Thrown when the server answers with ERROR. */
export class TftpErrorReply extends Error {
  readonly code: number;
  readonly serverPort: number;
  constructor(code: number, message: string, serverPort: number) {
    super(`TFTP error ${code}: ${message}`);
    this.code = code;
    this.serverPort = serverPort;
  }
}

/** Reads a file from 127.0.0.1:port, retransmitting on timeout; rejects with TftpErrorReply on ERROR. */
export async function tftpGet(request: TestGet): Promise<TestGetResult> {
  const socket = await openTestSocket(request.loss, request.from);
  const timeoutMs = request.timeoutMs ?? 500;
  const retries = request.retries ?? 10;
  const rrq = encodeTftpPacket({ opcode: TftpOpcode.ReadRequest, filename: request.file, mode: 'octet', options: request.options ?? [] });
  const chunks: Uint8Array[] = [];
  let blockSize = 512;
  let windowSize = 1;
  let expected = 1;
  let sinceAck = 0;
  let serverPort: number | undefined;
  let optionAck: TftpOption[] | undefined;
  let lastSent = rrq;
  let lastSentTo = request.port;
  const send = (packet: Uint8Array, port: number) => {
    lastSent = packet;
    lastSentTo = port;
    socket.send(packet, port);
  };
  const ack = (port: number) => {
    sinceAck = 0;
    send(encodeTftpPacket({ opcode: TftpOpcode.Ack, block: (expected - 1) & 0xffff }), port);
  };
  try {
    send(rrq, request.port);
    let silent = 0;
    for (;;) {
      const received = await socket.receive(timeoutMs);
      if (received === undefined) {
        silent += 1;
        if (silent > retries) throw new Error(`no answer after ${retries} retries (block ${expected})`);
        socket.send(lastSent, lastSentTo);
        continue;
      }
      silent = 0;
      const { packet, port } = received;
      if (serverPort === undefined) serverPort = port;
      else if (port !== serverPort) {
        socket.send(encodeTftpPacket({ opcode: TftpOpcode.Error, code: 5, message: 'Unknown transfer ID' }), port);
        continue;
      }
      if (packet.opcode === TftpOpcode.Error) throw new TftpErrorReply(packet.code, packet.message, port);
      if (packet.opcode === TftpOpcode.OptionAck) {
        if (expected !== 1) continue;
        optionAck = packet.options;
        for (const option of packet.options) {
          if (option.name === 'blksize') blockSize = Number(option.value);
          if (option.name === 'windowsize') windowSize = Number(option.value);
        }
        if (request.abortAfterOptionAck) {
          send(encodeTftpPacket({ opcode: TftpOpcode.Error, code: 8, message: 'User aborted the transfer' }), port);
          return { data: Buffer.alloc(0), optionAck, serverPort: port, dropped: socket.dropped() };
        }
        ack(port);
        continue;
      }
      if (packet.opcode !== TftpOpcode.Data) continue;
      if (packet.block !== (expected & 0xffff)) {
        ack(port); // a gap or a resent block: tell the server where we are (RFC 7440 §4)
        continue;
      }
      chunks.push(Uint8Array.from(packet.data));
      expected += 1;
      sinceAck += 1;
      if (packet.data.length < blockSize) {
        ack(port);
        if (request.dallyMs) await dally(socket, port, request.dallyMs);
        return { data: Buffer.concat(chunks), optionAck, serverPort: port, dropped: socket.dropped() };
      }
      if (sinceAck === windowSize) ack(port);
    }
  } finally {
    await socket.close();
  }

  /** After the last ACK, answer resent DATA (our ACK may have been lost) until the server goes quiet. */
  async function dally(dallySocket: TestSocket, port: number, quietMs: number): Promise<void> {
    for (;;) {
      const late = await dallySocket.receive(quietMs);
      if (late === undefined) return;
      if (late.port === port && late.packet.opcode === TftpOpcode.Data) ack(port);
    }
  }
}

/** A temp directory with files and a TftpFileSource over it that records every path it was asked for. */
export async function tempFileSource(files: Record<string, Uint8Array>): Promise<{ source: TftpFileSource; requested: string[]; cleanup(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'bootstation-tftp-'));
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(directory, name), bytes);
  const requested: string[] = [];
  const source: TftpFileSource = async (path) => {
    requested.push(path);
    if (!Object.hasOwn(files, path)) return undefined;
    return openForReading(join(directory, path));
  };
  return { source, requested, cleanup: () => rm(directory, { recursive: true, force: true }) };
}

/** Waits until `condition` holds, checking every 10 ms; rejects with `what` after timeoutMs. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
