import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BootEventInput, TftpTransferEvent } from '../../src/events/model.ts';
import { createEventStore } from '../../src/events/store.ts';

/** A store on a clock the test moves by hand. */
function storeAt(start = 1_000_000, bounds: { maxClients?: number; maxEvents?: number; maxClientEvents?: number } = {}) {
  let now = start;
  const store = createEventStore({ now: () => now, ...bounds });
  return { store, tick: (ms: number) => void (now += ms) };
}

const offer = (mac: string, ip?: string): BootEventInput => ({ kind: 'dhcp-offer', mac, firmware: 'bios-pxe', file: 'undionly.kpxe', port: 67, ip });
const tftp = (ip: string, overrides: Partial<TftpTransferEvent> = {}): TftpTransferEvent => ({
  kind: 'tftp-transfer', ip, file: 'undionly.kpxe', blockSize: 1468, windowSize: 4, bytes: 70_000, durationMs: 100, retransmissions: 0, outcome: 'completed', ...overrides,
});
const fetchOf = (ip: string, role: 'boot-script' | 'menu' | 'kernel' | 'initrd' | 'image-file', extra: { mac?: string; bytes?: number; path?: string } = {}): BootEventInput => ({
  kind: 'http-fetch', ip, role, mac: extra.mac, path: extra.path ?? `/${role}`, image: role === 'kernel' || role === 'initrd' ? 'debian' : undefined, status: 200, bytes: extra.bytes ?? 1000, durationMs: 10,
});

describe('event ids and since', () => {
  it('numbers events 1, 2, 3 … and returns those after an id, oldest first', () => {
    const { store } = storeAt();
    for (const mac of ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03']) store.record(offer(mac));
    assert.equal(store.lastId(), 3);
    assert.deepEqual(store.since(1).map((event) => event.id), [2, 3]);
    assert.deepEqual(store.since(0, 2).map((event) => event.id), [1, 2]);
    assert.deepEqual(store.since(3), []);
  });

  it('keeps only the newest maxEvents, and since() still finds its place after the oldest are dropped', () => {
    const { store } = storeAt(0, { maxEvents: 3 });
    for (let i = 0; i < 10; i++) store.record(offer('52:54:00:00:00:01'));
    assert.deepEqual(store.since(0).map((event) => event.id), [8, 9, 10], 'only the newest three are kept');
    assert.deepEqual(store.since(8).map((event) => event.id), [9, 10]);
    assert.equal(store.lastId(), 10, 'ids keep counting');
  });

  it('stamps events with the injected clock', () => {
    const { store, tick } = storeAt(5000);
    tick(250);
    assert.equal(store.record(offer('52:54:00:00:00:01'))?.at, 5250);
  });
});

describe('client bounds', () => {
  it('keeps the maxClients most recently seen clients, most recent first', () => {
    const { store } = storeAt(0, { maxClients: 2 });
    store.record(offer('52:54:00:00:00:01'));
    store.record(offer('52:54:00:00:00:02'));
    store.record(offer('52:54:00:00:00:01'));
    store.record(offer('52:54:00:00:00:03'));
    assert.deepEqual(store.clients().map((client) => client.key), ['52:54:00:00:00:03', '52:54:00:00:00:01'], 'client 02 was seen least recently and is evicted');
    store.setMaxClients(1);
    assert.deepEqual(store.clients().map((client) => client.key), ['52:54:00:00:00:03']);
  });

  it('keeps at most maxClientEvents per client timeline', () => {
    const { store } = storeAt(0, { maxClientEvents: 2 });
    for (let i = 0; i < 5; i++) store.record(offer('52:54:00:00:00:01'));
    assert.deepEqual(store.client('52:54:00:00:00:01')?.events.map((event) => event.id), [4, 5]);
  });

  it('gives no row to DHCP packets of strangers that are not netboot clients, but does to turned-away PXE clients', () => {
    const { store } = storeAt();
    assert.equal(store.record({ kind: 'dhcp-ignored', mac: 'aa:bb:cc:00:00:01', reasons: ['no vendor class (option 60)'], netbootVendor: false }), undefined);
    store.record({ kind: 'dhcp-ignored', mac: 'aa:bb:cc:00:00:02', reasons: ['x86 UEFI (option 93 = 6) has no first-stage iPXE binary'], netbootVendor: true, vendorClass: 'PXEClient:Arch:00006' });
    assert.deepEqual(store.clients().map((client) => client.key), ['aa:bb:cc:00:00:02']);
    const view = store.clients()[0]!;
    assert.equal(view.step, 'dhcp');
    assert.equal(view.stepOk, false);
    assert.match(view.timeline.dhcp!.detail, /has no first-stage iPXE binary/);
  });

  it("names a client's platform as the platform table does, from the kind of its last offer", () => {
    const { store } = storeAt();
    store.record({ ...offer('52:54:00:00:00:01'), firmware: 'efi-arm64-http' } as BootEventInput);
    assert.deepEqual([store.clients()[0]?.firmware, store.clients()[0]?.platform], ['efi-arm64-http', 'arm64 UEFI, HTTP Boot']);
    store.record({ ...offer('52:54:00:00:00:01'), firmware: 'efi-arm64-ipxe' } as BootEventInput);
    assert.equal(store.clients()[0]?.platform, 'arm64 UEFI, iPXE');
    store.record({ ...offer('52:54:00:00:00:01'), firmware: 'unknown' } as BootEventInput);
    assert.equal(store.clients()[0]?.platform, undefined, 'a kind no row names leaves no stale name behind');
  });
});

describe('IP → MAC', () => {
  it('files a TFTP transfer under the MAC whose DHCP request named the address', () => {
    const { store } = storeAt();
    store.record(offer('52:54:00:00:00:01', '10.77.0.100'));
    const event = store.record(tftp('10.77.0.100'));
    assert.equal(event?.client, '52:54:00:00:00:01');
    const view = store.client('52:54:00:00:00:01')!.view;
    assert.equal(view.ip, '10.77.0.100');
    assert.equal(view.step, 'tftp');
    assert.deepEqual({ bytes: view.timeline.tftp!.bytes, rate: view.timeline.tftp!.rate }, { bytes: 70_000, rate: 700_000 });
  });

  it('learns the address from the DHCPREQUEST meant for the router, without marking the offered client as ignored', () => {
    const { store } = storeAt();
    store.record(offer('52:54:00:00:00:01'));
    store.record({ kind: 'dhcp-ignored', mac: '52:54:00:00:00:01', reasons: ['addressed to another server'], netbootVendor: true, ip: '10.77.0.101' });
    assert.equal(store.macOf('10.77.0.101'), '52:54:00:00:00:01');
    assert.equal(store.client('52:54:00:00:00:01')!.view.timeline.dhcp!.ok, true, 'the offer still stands');
    assert.equal(store.record(tftp('10.77.0.101'))?.client, '52:54:00:00:00:01');
  });

  it('keeps an address-only row until DHCP names the MAC of the address, then folds it into the MAC row', () => {
    const { store } = storeAt();
    const replaced: Array<string | undefined> = [];
    store.subscribe((_event, _client, merged) => replaced.push(merged));
    store.record(offer('52:54:00:00:00:09'));
    store.record(tftp('10.77.0.150'));
    assert.deepEqual(store.clients().map((client) => client.key), ['ip:10.77.0.150', '52:54:00:00:00:09']);
    store.record(fetchOf('10.77.0.150', 'boot-script', { mac: '52:54:00:00:00:09' }));
    assert.deepEqual(store.clients().map((client) => client.key), ['ip:10.77.0.150', '52:54:00:00:00:09'], 'boot.ipxe?mac= alone is a claim: it folds nothing');
    assert.equal(store.clients()[0]!.macVerified, false);
    store.record({ kind: 'dhcp-ignored', mac: '52:54:00:00:00:09', reasons: ['addressed to another server'], netbootVendor: true, ip: '10.77.0.150' });
    assert.deepEqual(store.clients().map((client) => client.key), ['52:54:00:00:00:09'], 'the address row is gone');
    const { view, events } = store.client('52:54:00:00:00:09')!;
    assert.deepEqual(events.map((event) => event.kind), ['dhcp-offer', 'tftp-transfer', 'http-fetch', 'dhcp-ignored'], 'events of both rows, in order');
    assert.ok(events.every((event) => event.client === '52:54:00:00:00:09'));
    assert.deepEqual(Object.keys(view.timeline), ['dhcp', 'tftp', 'script']);
    assert.equal(view.macVerified, undefined, 'DHCP vouches for the merged row');
    assert.deepEqual(replaced, [undefined, undefined, undefined, 'ip:10.77.0.150'], 'listeners hear which row was merged');
  });

  it('trusts boot.ipxe?mac= only when DHCP learnt that MAC for the address, and never learns from it', () => {
    const { store } = storeAt();
    store.record(offer('52:54:00:00:00:01', '10.77.0.100'));
    const verified = store.record(fetchOf('10.77.0.100', 'boot-script', { mac: '52:54:00:00:00:01' }));
    assert.deepEqual(verified?.kind === 'http-fetch' && [verified.client, verified.macVerified], ['52:54:00:00:00:01', true]);
    const claimed = store.record(fetchOf('10.77.0.200', 'boot-script', { mac: '52:54:00:00:00:01' }));
    assert.deepEqual(claimed?.kind === 'http-fetch' && [claimed.client, claimed.macVerified], ['ip:10.77.0.200', false]);
    assert.equal(store.macOf('10.77.0.200'), undefined);
    const mismatched = store.record(fetchOf('10.77.0.100', 'menu', { mac: '52:54:00:00:00:02' }));
    assert.deepEqual(mismatched?.kind === 'http-fetch' && [mismatched.client, mismatched.macVerified], ['52:54:00:00:00:01', false], 'filed by the address, marked');
    assert.equal(store.client('52:54:00:00:00:02'), undefined, 'no row for a MAC only claimed');
  });

});

describe('per-client timelines', () => {
  it('walks DHCP → TFTP → script → menu → kernel → initrd, summing several initrds', () => {
    const { store } = storeAt();
    const mac = '52:54:00:00:00:01';
    store.record(offer(mac, '10.77.0.100'));
    store.record(tftp('10.77.0.100'));
    store.record(fetchOf('10.77.0.100', 'boot-script', { mac }));
    store.record(fetchOf('10.77.0.100', 'menu', { mac }));
    store.record(fetchOf('10.77.0.100', 'kernel', { bytes: 8_000_000, path: '/images/debian/linux' }));
    store.record(fetchOf('10.77.0.100', 'initrd', { bytes: 30_000_000 }));
    store.record(fetchOf('10.77.0.100', 'initrd', { bytes: 2_000_000 }));
    const view = store.client(mac)!.view;
    assert.deepEqual(Object.keys(view.timeline), ['dhcp', 'tftp', 'script', 'menu', 'kernel', 'initrd']);
    assert.equal(view.step, 'initrd');
    assert.equal(view.image, 'debian');
    assert.deepEqual({ bytes: view.timeline.initrd!.bytes, count: view.timeline.initrd!.count }, { bytes: 32_000_000, count: 2 });
  });

  it('starts a new boot when an earlier step comes again, except DHCP, which iPXE repeats mid-boot', () => {
    const { store } = storeAt();
    const mac = '52:54:00:00:00:01';
    store.record(offer(mac, '10.77.0.100'));
    store.record(tftp('10.77.0.100'));
    store.record(fetchOf('10.77.0.100', 'kernel'));
    store.record(offer(mac, '10.77.0.100'));
    assert.deepEqual(Object.keys(store.client(mac)!.view.timeline), ['dhcp', 'tftp', 'kernel'], 'iPXE\'s own DHCP keeps the boot');
    store.record(tftp('10.77.0.100'));
    assert.deepEqual(Object.keys(store.client(mac)!.view.timeline), ['dhcp', 'tftp'], 'a new first stage clears the kernel of the last boot');
  });

  it('marks a failed step and ignores the UEFI size probe', () => {
    const { store } = storeAt();
    const mac = '52:54:00:00:00:01';
    store.record(offer(mac, '10.77.0.100'));
    store.record(tftp('10.77.0.100', { outcome: 'options-declined', bytes: 0 }));
    assert.equal(store.client(mac)!.view.step, 'dhcp', 'a size probe is not a step');
    store.record(tftp('10.77.0.100', { outcome: 'timed-out', bytes: 14_680 }));
    const view = store.client(mac)!.view;
    assert.equal(view.step, 'tftp');
    assert.equal(view.stepOk, false);
    assert.equal(view.timeline.tftp!.detail, 'undionly.kpxe: timed-out');
  });

  it('files server events (ingest, reloads) under no client', () => {
    const { store } = storeAt();
    const event = store.record({ kind: 'ingest', image: 'debian', phase: 'running' });
    assert.equal(event?.client, undefined);
    assert.deepEqual(store.clients(), []);
    assert.equal(store.since(0).length, 1);
  });
});
