// Issue 14 item 6: the IP → MAC table only grew. DHCP packets of machines that are not netboot clients returned
// before eviction ran, so 300,000 "MSFT 5.0" packets with distinct ciaddr added 37 MB. The table and the client
// history are now bounded whatever kind of packet fills them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { createEventStore } from '../../src/events/store.ts';

const RECORDS = 300_000;
const MAX_CLIENTS = 100;
// The store keeps 4 addresses per kept client (address changes of the machines it shows).
const ADDRESS_BOUND = 4 * MAX_CLIENTS;
// What is left after a full GC is the 400 kept pairs plus noise; the unbounded table grew by about 30 MB here.
const HEAP_GROWTH_BOUND = 4 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection. */
function settledHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const addressOf = (index: number) => `10.${(index >> 16) & 0xff}.${(index >> 8) & 0xff}.${index & 0xff}`;
const macOf = (index: number) => `aa:bb:${[24, 16, 8, 0].map((shift) => ((index >> shift) & 0xff).toString(16).padStart(2, '0')).join(':')}`;

describe('bounded IP → MAC table and client history (issue 14 item 6)', () => {
  it(`keeps at most ${ADDRESS_BOUND} addresses and grows the heap by under ${HEAP_GROWTH_BOUND / 2 ** 20} MiB after ${RECORDS} "MSFT 5.0" packets`, () => {
    const store = createEventStore({ now: Date.now, maxClients: MAX_CLIENTS });
    const before = settledHeap();
    for (let index = 0; index < RECORDS; index++) {
      store.record({ kind: 'dhcp-ignored', mac: macOf(index), reasons: ['vendor class (option 60) starts with neither PXEClient nor HTTPClient'], netbootVendor: false, ip: addressOf(index), vendorClass: 'MSFT 5.0' });
    }
    const growth = settledHeap() - before;
    assert.ok(store.knownAddresses() <= ADDRESS_BOUND, `${store.knownAddresses()} addresses kept`);
    assert.ok(growth < HEAP_GROWTH_BOUND, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
    assert.equal(store.macOf(addressOf(RECORDS - 1)), macOf(RECORDS - 1), 'the most recent address is still known');
    assert.equal(store.macOf(addressOf(0)), undefined, 'the oldest was evicted');
    assert.equal(store.clients().length, 0, 'strangers get no row');
  });

  it(`keeps at most ${MAX_CLIENTS} clients when netboot packets, TFTP and HTTP from distinct addresses fill it`, () => {
    const store = createEventStore({ now: Date.now, maxClients: MAX_CLIENTS });
    for (let index = 0; index < 20_000; index++) {
      const ip = addressOf(index);
      store.record({ kind: 'dhcp-ignored', mac: macOf(index), reasons: ['x'], netbootVendor: true, ip });
      store.record({ kind: 'tftp-transfer', ip: addressOf(index + 1_000_000), file: 'x', blockSize: 512, windowSize: 1, bytes: 0, durationMs: 0, retransmissions: 0, outcome: 'timed-out' });
      store.record({ kind: 'http-fetch', ip: addressOf(index + 2_000_000), mac: macOf(index + 5_000_000), role: 'boot-script', path: '/boot.ipxe', status: 200, bytes: 0, durationMs: 0 });
    }
    assert.ok(store.clients().length <= MAX_CLIENTS, `${store.clients().length} clients kept`);
    assert.ok(store.knownAddresses() <= ADDRESS_BOUND, `${store.knownAddresses()} addresses kept`);
  });
});
