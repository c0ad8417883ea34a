// Issue 14 item 11: any client could file its requests under any MAC with /boot.ipxe?mac=, and so rewrite
// another machine's timeline on the dashboard. A MAC from ?mac= is now trusted only when DHCP learnt it for the
// address the request came from; otherwise the event is marked unverified and filed by the sender's address.
// Real HTTP on loopback: the victim is 127.0.0.1, the attackers 127.0.0.5 (no DHCP seen) and 127.0.0.6.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { BootstationConfig } from '../../src/config/model.ts';
import { createBootMetrics, fanOut } from '../../src/events/metrics.ts';
import { createEventStore, type ClientView } from '../../src/events/store.ts';
import { buildHttpApp } from '../../src/http/app.ts';

const VICTIM = '52:54:00:0b:0b:01';
const ATTACKER = '52:54:00:0b:0b:66';
const store = createEventStore({ now: Date.now });
const imageDir = await mkdtemp(join(tmpdir(), 'bootstation-events-mac-'));
const config: BootstationConfig = {
  server: { httpPort: 8080, proxyDhcp: true },
  menu: { title: 'Lab', timeoutSeconds: 5 },
  ipxe: {},
  images: [{ id: 'debian', label: 'Debian', dir: imageDir, kernel: 'linux', initrds: ['initrd.gz'], args: '' }],
  hosts: new Map(),
};
const ipxe = () => ({ dir: imageDir, kind: 'stock' as const, files: new Map() });
const app = buildHttpApp({
  config: () => config,
  serverUrl: () => 'http://127.0.0.1:8080',
  ipxe,
  log: pino({ level: 'silent' }),
  events: fanOut(store, createBootMetrics({ tftpActive: () => 0 })),
  dashboard: { store, metrics: createBootMetrics({ tftpActive: () => 0 }), images: async () => [], ipxe, adminToken: () => undefined, title: () => 'Lab' },
});
let port = 0;

/** GETs a path from a chosen local address (every 127.x address is this host on Linux) and returns the body. */
function get(path: string, from: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, localAddress: from }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Waits until the store has filed `count` events (an event is filed when its response closes). */
async function eventsFiled(count: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (store.lastId() < count) {
    assert.ok(Date.now() < deadline, `only ${store.lastId()} of ${count} events filed`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const clientViews = async (from: string): Promise<ClientView[]> => (JSON.parse(await get('/api/clients', from)) as { clients: ClientView[] }).clients;

before(async () => {
  await writeFile(join(imageDir, 'linux'), Buffer.alloc(5000, 1));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
after(async () => {
  await app.close();
  await rm(imageDir, { recursive: true, force: true });
});

describe('boot.ipxe?mac= cannot take over another machine (issue 14 item 11)', () => {
  it('trusts ?mac= when DHCP learnt that MAC for the sender', async () => {
    store.record({ kind: 'dhcp-offer', mac: VICTIM, firmware: 'bios-pxe', file: 'undionly.kpxe', port: 67, ip: '127.0.0.1' });
    await get(`/boot.ipxe?mac=${VICTIM}`, '127.0.0.1');
    await get('/images/debian/linux', '127.0.0.1');
    await eventsFiled(3);
    const script = store.since(0).find((event) => event.kind === 'http-fetch' && event.role === 'boot-script');
    assert.equal(script?.client, VICTIM);
    assert.equal(script?.kind === 'http-fetch' && script.macVerified, true);
    assert.deepEqual(Object.keys(store.client(VICTIM)!.view.timeline), ['dhcp', 'script', 'kernel']);
  });

  it("files another address's ?mac= of the victim as unverified, apart from the victim, whose timeline stays", async () => {
    const victimBefore = structuredClone(store.client(VICTIM)!.view);
    const eventsBefore = store.client(VICTIM)!.events.length;
    await get(`/boot.ipxe?mac=${VICTIM}`, '127.0.0.5');
    await get(`/menu.ipxe?mac=${VICTIM}`, '127.0.0.5');
    await get('/images/debian/linux', '127.0.0.5');
    await eventsFiled(6);
    const forged = store.since(3).filter((event) => event.kind === 'http-fetch' && event.mac === VICTIM);
    assert.equal(forged.length, 2);
    for (const event of forged) {
      assert.equal(event.kind === 'http-fetch' && event.macVerified, false, 'a claimed MAC DHCP never gave this address is unverified');
      assert.equal(event.client, 'ip:127.0.0.5', 'filed by the address it came from');
    }
    assert.deepEqual(store.client(VICTIM)!.view, victimBefore, "the victim's row did not change");
    assert.equal(store.client(VICTIM)!.events.length, eventsBefore);
    assert.equal(store.macOf('127.0.0.5'), undefined, 'a claim teaches the store nothing');

    const row = (await clientViews('127.0.0.1')).find((client) => client.key === 'ip:127.0.0.5');
    assert.equal(row?.mac, VICTIM, 'the row shows what the machine claimed');
    assert.equal(row?.macVerified, false, 'the API says it is unverified');
    assert.equal((await clientViews('127.0.0.1')).find((client) => client.key === VICTIM)?.macVerified, undefined);
    const page = await get('/', '127.0.0.1');
    assert.match(page, new RegExp(`<tr data-key="ip:127\\.0\\.0\\.5"><td class="mac">${VICTIM}[^<]*<small class="unverified"[^>]*>unverified</small>`));
  });

  it("files a machine known by DHCP under its own MAC when it claims the victim's, still unverified", async () => {
    store.record({ kind: 'dhcp-offer', mac: ATTACKER, firmware: 'bios-pxe', file: 'undionly.kpxe', port: 67, ip: '127.0.0.6' });
    const victimBefore = structuredClone(store.client(VICTIM)!.view);
    const filed = store.lastId();
    await get(`/boot.ipxe?mac=${VICTIM}`, '127.0.0.6');
    await eventsFiled(filed + 1);
    const [event] = store.since(filed);
    assert.equal(event?.client, ATTACKER);
    assert.equal(event?.kind === 'http-fetch' && event.macVerified, false);
    assert.deepEqual(store.client(VICTIM)!.view, victimBefore);
    assert.equal(store.macOf('127.0.0.6'), ATTACKER);
    assert.equal(store.client(ATTACKER)!.view.macVerified, undefined, "DHCP vouches for the attacker's own row");
  });
});
