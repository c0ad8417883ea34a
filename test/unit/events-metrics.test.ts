import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBootMetrics, ignoreReasonLabel } from '../../src/events/metrics.ts';

describe('metric names', () => {
  it('are bootstation_ snake_case; counters end in _total, durations in _seconds', async () => {
    const metrics = createBootMetrics({ tftpActive: () => 0 });
    const all = await metrics.registry.getMetricsAsJSON();
    const names = all.map((metric) => metric.name).sort();
    assert.deepEqual(names, [
      'bootstation_active_transfers',
      'bootstation_config_reloads_total',
      'bootstation_dhcp_ignored_total',
      'bootstation_dhcp_offers_total',
      'bootstation_http_image_bytes_total',
      'bootstation_ingest_duration_seconds',
      'bootstation_tftp_bytes_total',
      'bootstation_tftp_errors_total',
      'bootstation_tftp_retransmissions_total',
      'bootstation_tftp_transfers_total',
    ]);
    for (const metric of all) {
      assert.match(metric.name, /^bootstation_[a-z]+(_[a-z]+)*$/, metric.name);
      if (String(metric.type) === 'counter') assert.match(metric.name, /_total$/, `${metric.name} is a counter`);
      if (String(metric.type) === 'histogram') assert.match(metric.name, /_seconds$/, `${metric.name} measures time`);
    }
  });
});

describe('ignore reasons as labels', () => {
  it('maps every reason text the classifier writes to a fixed label', () => {
    assert.equal(ignoreReasonLabel('op 2 is not a BOOTREQUEST'), 'not-bootrequest');
    assert.equal(ignoreReasonLabel('DHCPINFORM is neither DHCPDISCOVER nor DHCPREQUEST'), 'not-discover-or-request');
    assert.equal(ignoreReasonLabel('no vendor class (option 60)'), 'no-vendor-class');
    assert.equal(ignoreReasonLabel('giaddr 127.0.0.1 is loopback, which no relay can have'), 'relay-refused');
    assert.equal(ignoreReasonLabel('giaddr 10.77.6.1 is not among server.dhcp_relays'), 'relay-refused');
    assert.equal(ignoreReasonLabel('ciaddr 10.0.0.5 is not the address the packet came from (10.0.0.9)'), 'ciaddr-not-sender');
    assert.equal(ignoreReasonLabel('vendor class (option 60) starts with neither PXEClient nor HTTPClient'), 'not-netboot-vendor');
    assert.equal(ignoreReasonLabel('ARM 64-bit UEFI (option 93 = 11) has no first-stage iPXE binary'), 'no-binary');
    assert.equal(ignoreReasonLabel('ipxe32.efi for efi-ia32-pxe is not among the available first-stage binaries'), 'no-binary');
    assert.equal(ignoreReasonLabel('malformed option 97 (client machine identifier must be type 0 and a 16-byte GUID)'), 'malformed-option');
    assert.equal(ignoreReasonLabel('something new'), 'other');
  });
});

describe('counting events', () => {
  it('counts offers by firmware, TFTP bytes, retransmissions and errors, HTTP bytes by image, reloads, and reads live gauges', async () => {
    let tftpActive = 3;
    const metrics = createBootMetrics({ tftpActive: () => tftpActive });
    metrics.emit({ kind: 'dhcp-offer', mac: '52:54:00:00:00:01', firmware: 'bios-pxe', file: 'undionly.kpxe', port: 67 });
    metrics.emit({ kind: 'dhcp-ignored', mac: '52:54:00:00:00:02', reasons: ['no vendor class (option 60)', 'no client architecture (option 93, nor Arch in option 60)'], netbootVendor: false });
    const transfer = { kind: 'tftp-transfer', ip: '10.0.0.5', file: 'undionly.kpxe', blockSize: 1468, windowSize: 1, durationMs: 50 } as const;
    metrics.emit({ ...transfer, bytes: 70_000, retransmissions: 2, outcome: 'completed' });
    metrics.emit({ ...transfer, bytes: 1468, retransmissions: 5, outcome: 'timed-out' });
    metrics.emit({ kind: 'http-fetch', ip: '10.0.0.5', role: 'kernel', path: '/images/debian/linux', image: 'debian', status: 200, bytes: 9000, durationMs: 3 });
    metrics.emit({ kind: 'http-fetch', ip: '10.0.0.5', role: 'menu', path: '/menu.ipxe', status: 200, bytes: 500, durationMs: 1 });
    metrics.emit({ kind: 'config-reload', applied: false });
    metrics.emit({ kind: 'ingest', image: 'debian', phase: 'installed', durationMs: 12_000 });
    metrics.httpActive.inc();
    tftpActive = 2;
    const text = await metrics.registry.metrics();
    for (const line of [
      'bootstation_dhcp_offers_total{firmware="bios-pxe"} 1',
      'bootstation_dhcp_ignored_total{reason="no-vendor-class"} 1',
      'bootstation_dhcp_ignored_total{reason="no-architecture"} 1',
      'bootstation_tftp_transfers_total{outcome="completed"} 1',
      'bootstation_tftp_bytes_total 71468',
      'bootstation_tftp_retransmissions_total 7',
      'bootstation_tftp_errors_total{outcome="timed-out"} 1',
      'bootstation_http_image_bytes_total{image="debian"} 9000',
      'bootstation_config_reloads_total{outcome="rejected"} 1',
      'bootstation_ingest_duration_seconds_count{outcome="installed"} 1',
      'bootstation_ingest_duration_seconds_bucket{le="15",outcome="installed"} 1',
      'bootstation_active_transfers{protocol="tftp"} 2',
      'bootstation_active_transfers{protocol="http"} 1',
    ]) assert.ok(text.split('\n').includes(line), `/metrics should contain: ${line}\n${text}`);
    assert.doesNotMatch(text, /image="undefined"|tftp_errors_total\{outcome="completed"\}/);
  });
});
