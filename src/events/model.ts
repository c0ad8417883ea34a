// What the services report about a client's boot, as typed values: no sockets, no clock, no formatting.
import type { BootRole } from '../boot/policy.ts';

/** ProxyDHCP answered a netboot client. */
export interface DhcpOfferEvent {
  kind: 'dhcp-offer';
  mac: string;
  /** The classification's label, e.g. "bios-pxe", "efi-x64-ipxe". */
  firmware: string;
  /** The boot file offered: a TFTP name or an http:// URL. */
  file: string;
  /** 67 or 4011: where the request arrived. */
  port: number;
  /** The client's IPv4 address when the packet tells it (ciaddr, the sender's address, option 50). */
  ip?: string;
  vendorClass?: string;
}

/** ProxyDHCP did not answer a packet, with every reason. */
export interface DhcpIgnoredEvent {
  kind: 'dhcp-ignored';
  mac: string;
  reasons: readonly string[];
  /** Vendor class starts with PXEClient or HTTPClient: a netboot client that was turned away, worth a row. */
  netbootVendor: boolean;
  ip?: string;
  vendorClass?: string;
}

/** How a TFTP transfer ended; mirrors the transfer machine's outcomes plus the service's own refusals. */
export type TftpOutcome = 'completed' | 'options-declined' | 'client-error' | 'timed-out' | 'file-not-found' | 'server-error';

/** A TFTP transfer ended. */
export interface TftpTransferEvent {
  kind: 'tftp-transfer';
  ip: string;
  file: string;
  blockSize: number;
  windowSize: number;
  bytes: number;
  durationMs: number;
  retransmissions: number;
  outcome: TftpOutcome;
}

/** What an HTTP path is to a booting client: the boot policy's role of it. */
export type HttpFetchRole = BootRole;

/** An HTTP request of a boot script, the menu, an iPXE binary or an image file was answered. */
export interface HttpFetchEvent {
  kind: 'http-fetch';
  ip: string;
  /** From the ?mac= query of boot.ipxe and menu.ipxe: what the client claims, which anyone can write. */
  mac?: string;
  /** Set by the event store: whether DHCP learnt `mac` for `ip`; only a verified MAC files the event under it. */
  macVerified?: boolean;
  role: HttpFetchRole;
  /** The path without the query, length-limited. */
  path: string;
  image?: string;
  status: number;
  bytes: number;
  durationMs: number;
  /** The Range header as sent, length-limited. */
  range?: string;
}

/**
 * Where an ingest is: retrying after a transient failure (message says why, retryInMs when), pinned when the
 * release a rollback switched away from was not installed again.
 */
export type IngestPhase = 'running' | 'progress' | 'installed' | 'up-to-date' | 'pinned' | 'retrying' | 'failed';

/** Progress of an ingest, started by the server itself or from the dashboard. */
export interface IngestEvent {
  kind: 'ingest';
  image: string;
  phase: IngestPhase;
  /** Bytes so far and in all (downloads, extraction of large files). */
  done?: number;
  total?: number;
  /** Whole run, on the last phase. */
  durationMs?: number;
  message?: string;
  /** retrying: when the next attempt starts. */
  retryInMs?: number;
}

/** images.yaml was re-read. */
export interface ConfigReloadEvent {
  kind: 'config-reload';
  applied: boolean;
}

/** Anything a service reports. */
export type BootEventInput = DhcpOfferEvent | DhcpIgnoredEvent | TftpTransferEvent | HttpFetchEvent | IngestEvent | ConfigReloadEvent;

/** A recorded event: its input plus a monotonic id, the time, and the client it was filed under. */
export type BootEvent = BootEventInput & {
  id: number;
  /** Milliseconds since the epoch, from the store's clock. */
  at: number;
  /** Lower-case MAC, or "ip:<address>" until the address's MAC is known; undefined for server events. */
  client?: string;
};

/** The narrow interface services report through; every service works without one. */
export interface BootEventSink {
  emit(event: BootEventInput): void;
}
