// Prometheus metrics from the same boot events the dashboard shows, in a registry of their own (never
// prom-client's global one, so tests and several servers in one process do not share counters).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BootEventInput, BootEventSink } from './model.ts';

/** Live numbers read at scrape time rather than counted from events. */
export interface MetricsGauges {
  /** TFTP transfers holding state right now. */
  tftpActive: () => number;
}

/** The registry /metrics serves and the sink that feeds it. */
export interface BootMetrics extends BootEventSink {
  registry: Registry;
  /** HTTP responses being streamed right now; the HTTP app counts them. */
  httpActive: { inc(): void; dec(): void };
}

// Reasons are free text with numbers and names in them: a label needs a small fixed set of values.
const IGNORE_REASON_LABELS: ReadonlyArray<readonly [RegExp, string]> = [
  [/is not a BOOTREQUEST/, 'not-bootrequest'],
  [/no DHCP message type|malformed option 53/, 'no-message-type'],
  [/is neither DHCPDISCOVER nor DHCPREQUEST/, 'not-discover-or-request'],
  [/no vendor class/, 'no-vendor-class'],
  [/starts with neither PXEClient nor HTTPClient/, 'not-netboot-vendor'],
  [/has no first-stage iPXE binary|is not among the available first-stage binaries/, 'no-binary'],
  [/does not match/, 'vendor-architecture-mismatch'],
  [/no client architecture/, 'no-architecture'],
  [/^malformed option/, 'malformed-option'],
  // Packets whose reply would go where the sender wrote rather than to a relay or to the sender (issue 14).
  [/^giaddr \S+ is /, 'relay-refused'],
  [/^ciaddr \S+ is not the address the packet came from/, 'ciaddr-not-sender'],
];

/** The bounded label for one ignore reason; reasons that match no pattern count as "other". */
export function ignoreReasonLabel(reason: string): string {
  return IGNORE_REASON_LABELS.find(([pattern]) => pattern.test(reason))?.[1] ?? 'other';
}

const TFTP_ERRORS = new Set(['client-error', 'timed-out', 'file-not-found', 'server-error']);

/** Creates the metrics of one server. */
export function createBootMetrics(gauges: MetricsGauges): BootMetrics {
  const registry = new Registry();
  const registers = [registry];
  const offers = new Counter({ name: 'bootstation_dhcp_offers_total', help: 'ProxyDHCP answers sent, by client firmware', labelNames: ['firmware'], registers });
  const ignored = new Counter({ name: 'bootstation_dhcp_ignored_total', help: 'DHCP packets not answered, by reason (a packet can have several)', labelNames: ['reason'], registers });
  const transfers = new Counter({ name: 'bootstation_tftp_transfers_total', help: 'TFTP transfers ended, by outcome', labelNames: ['outcome'], registers });
  const tftpBytes = new Counter({ name: 'bootstation_tftp_bytes_total', help: 'Bytes acknowledged by TFTP clients', registers });
  const retransmissions = new Counter({ name: 'bootstation_tftp_retransmissions_total', help: 'TFTP packets sent again after a timeout', registers });
  const tftpErrors = new Counter({ name: 'bootstation_tftp_errors_total', help: 'TFTP transfers that failed (not found, timed out, aborted, server error), by outcome', labelNames: ['outcome'], registers });
  const httpBytes = new Counter({ name: 'bootstation_http_image_bytes_total', help: 'Bytes of image files sent over HTTP, by image id', labelNames: ['image'], registers });
  let httpActive = 0;
  new Gauge({
    name: 'bootstation_active_transfers',
    help: 'Transfers under way, by protocol',
    labelNames: ['protocol'],
    registers,
    collect() {
      this.set({ protocol: 'tftp' }, gauges.tftpActive());
      this.set({ protocol: 'http' }, httpActive);
    },
  });
  // Ingests take seconds (a kernel) to many minutes (a multi-GB ISO over a slow line).
  const ingests = new Histogram({
    name: 'bootstation_ingest_duration_seconds',
    help: 'Ingests started from the dashboard, by outcome',
    labelNames: ['outcome'],
    buckets: [1, 5, 15, 60, 300, 900, 3600],
    registers,
  });
  const reloads = new Counter({ name: 'bootstation_config_reloads_total', help: 'Re-reads of images.yaml, by outcome', labelNames: ['outcome'], registers });

  return {
    registry,
    httpActive: { inc: () => void httpActive++, dec: () => void httpActive-- },
    emit(event: BootEventInput) {
      switch (event.kind) {
        case 'dhcp-offer':
          offers.inc({ firmware: event.firmware });
          break;
        case 'dhcp-ignored':
          for (const label of new Set(event.reasons.map(ignoreReasonLabel))) ignored.inc({ reason: label });
          break;
        case 'tftp-transfer':
          transfers.inc({ outcome: event.outcome });
          tftpBytes.inc(event.bytes);
          retransmissions.inc(event.retransmissions);
          if (TFTP_ERRORS.has(event.outcome)) tftpErrors.inc({ outcome: event.outcome });
          break;
        case 'http-fetch':
          if (event.image !== undefined) httpBytes.inc({ image: event.image }, event.bytes);
          break;
        case 'ingest':
          if (event.durationMs !== undefined) ingests.observe({ outcome: event.phase }, event.durationMs / 1000);
          break;
        case 'config-reload':
          reloads.inc({ outcome: event.applied ? 'applied' : 'rejected' });
          break;
      }
    },
  };
}

/** A sink that hands every event to each of several sinks (the history and the metrics). */
export function fanOut(...sinks: readonly BootEventSink[]): BootEventSink {
  return { emit: (event) => sinks.forEach((sink) => sink.emit(event)) };
}
