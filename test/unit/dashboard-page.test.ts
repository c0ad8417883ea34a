import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import { createEventStore } from '../../src/events/store.ts';
import { describeIngestState, describeIpxe, escapeHtml, renderDashboardPage } from '../../src/http/dashboard-page.ts';

const HOSTILE = '<script>alert("x")</script>&\'';

const stockIpxe = describeIpxe({ dir: '/usr/lib/ipxe', kind: 'stock', files: new Map([['undionly.kpxe', '/usr/lib/ipxe/undionly.kpxe']]) });

function image(overrides: Partial<ImageStatus> = {}): ImageStatus {
  return { id: 'debian', label: 'Debian', source: 'url', state: 'ready', version: '12', size: 1024, lastIngest: '2026-01-02T03:04:05.678Z', verification: null, missingFiles: [], failure: null, versions: [], diskUsed: null, pinned: null, ...overrides };
}

describe('escapeHtml', () => {
  it('escapes the five characters that can end text or an attribute', () => {
    assert.equal(escapeHtml(`a<b>&"c"'d`), 'a&#60;b&#62;&#38;&#34;c&#34;&#39;d');
  });
});

describe('the dashboard page', () => {
  it('escapes what clients send (vendor class, requested file names) and what images.yaml and failures say', () => {
    const store = createEventStore({ now: () => 0 });
    store.record({ kind: 'dhcp-ignored', mac: '52:54:00:00:00:01', reasons: [HOSTILE], netbootVendor: true, vendorClass: `PXEClient${HOSTILE}`, ip: '10.0.0.9' });
    store.record({ kind: 'tftp-transfer', ip: '10.0.0.9', file: `pxelinux.0${HOSTILE}`, blockSize: 512, windowSize: 1, bytes: 0, durationMs: 2, retransmissions: 0, outcome: 'file-not-found' });
    const html = renderDashboardPage({
      title: `Lab ${HOSTILE}`,
      clients: store.clients(),
      lastEventId: store.lastId(),
      images: [image({ label: `Debian ${HOSTILE}`, state: 'failed', failure: { at: 'now', code: 'X', message: HOSTILE } })],
      ipxe: stockIpxe,
      ingestEnabled: true,
      ingestRunning: undefined,
      diskFree: null,
      ingestStates: {},
    });
    assert.doesNotMatch(html, /<script>alert/, 'no markup from untrusted text survives');
    assert.doesNotMatch(html, /"x"\)/, 'quotes inside untrusted text are escaped');
    assert.match(html, /PXEClient&#60;script&#62;/);
    assert.match(html, /pxelinux\.0&#60;script&#62;alert\(&#34;x&#34;\)&#60;\/script&#62;&#38;&#39;: file-not-found/);
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'the only script element is /dashboard.js');
  });

  it('shows the disk use of every kept version and the free space, and offers Rollback only with a kept version', () => {
    const page = { title: 'Lab', clients: [], lastEventId: 0, ipxe: stockIpxe, ingestRunning: undefined, ingestEnabled: true, ingestStates: {} };
    const versions = [{ name: 'debian-2', serving: true, size: 3 * 1024 ** 2 }, { name: 'debian-1', serving: false, size: 1024 ** 2 }];
    const two = renderDashboardPage({ ...page, images: [image({ versions, diskUsed: 4 * 1024 ** 2 })], diskFree: 5 * 1024 ** 3 });
    assert.match(two, /<td>4\.00 MiB \(2 versions\)<\/td>/);
    assert.match(two, /<span id="disk-free">5\.00 GiB<\/span>/);
    assert.match(two, /data-action="rollback" data-image="debian" data-kept="yes">Rollback</);
    const one = renderDashboardPage({ ...page, images: [image({ versions: versions.slice(0, 1), diskUsed: 3 * 1024 ** 2 })], diskFree: null });
    assert.match(one, /<td>3\.00 MiB<\/td>/);
    assert.match(one, /<span id="disk-free">unknown<\/span>/);
    assert.match(one, /data-action="rollback" data-image="debian" data-kept="no" disabled>Rollback</, 'nothing to roll back to');
  });

  it("says what the ingest runner is doing with an image, as the menu does", () => {
    assert.equal(describeIngestState({ phase: 'queued' }), 'queued');
    assert.equal(describeIngestState({ phase: 'running' }), 'downloading');
    assert.equal(describeIngestState({ phase: 'running', done: 42, total: 100 }), 'downloading 42 %');
    assert.equal(describeIngestState({ phase: 'retrying', retryAt: 0, attempts: 2, message: 'deb.debian.org did not answer' }), 'retrying (attempt 2): deb.debian.org did not answer');
    assert.equal(describeIngestState({ phase: 'failed', code: 'X', message: 'the checksum differs' }), 'failed: the checksum differs');
    const html = renderDashboardPage({
      title: 'Lab', clients: [], lastEventId: 0, ipxe: stockIpxe, ingestRunning: 'debian', ingestEnabled: false, diskFree: null,
      images: [image({ state: 'not ingested', lastIngest: null }), image({ id: 'alpine', state: 'not ingested', lastIngest: null })],
      ingestStates: { debian: { phase: 'running', done: 1, total: 4 }, alpine: { phase: 'retrying', retryAt: 0, attempts: 1, message: `no answer ${HOSTILE}` } },
    });
    assert.match(html, /<td class="state state-busy">downloading 25 %<\/td>/);
    assert.match(html, /<td class="state state-busy">retrying \(attempt 1\): no answer &#60;script&#62;/);
  });

  it('offers the ingest button only with an admin token, and only for ingested sources', () => {
    const page = { title: 'Lab', clients: [], lastEventId: 0, ipxe: stockIpxe, ingestRunning: undefined, diskFree: null, ingestStates: {} };
    const images = [image({ id: 'debian', source: 'url' }), image({ id: 'local', source: 'dir', lastIngest: null })];
    const on = renderDashboardPage({ ...page, images, ingestEnabled: true });
    assert.match(on, /data-action="ingest" data-image="debian"[^>]*>Re-ingest</);
    assert.match(on, /data-action="check" data-image="debian">Check now</);
    assert.doesNotMatch(on, /data-action="[a-z]+" data-image="local"/);
    assert.match(on, /id="token"/);
    const off = renderDashboardPage({ ...page, images, ingestEnabled: false });
    assert.doesNotMatch(off, /<button|id="token"/);
    const chain = renderDashboardPage({ ...page, images: [image({ id: 'xyz', source: 'chain', lastIngest: null, verification: null })], ingestEnabled: true });
    assert.doesNotMatch(chain, /data-action="[a-z]+" data-image="xyz"/, 'a chain image has nothing to ingest');
    assert.match(chain, /<td class="verified">fetched by iPXE at boot \(not checked\)<\/td>/);
  });

  it('shows why the images cannot be listed, escaped, while images.yaml does not validate', () => {
    const html = renderDashboardPage({ title: 'Lab', clients: [], lastEventId: 0, images: [], imagesError: `images.yaml:3:5: menu.title: ${HOSTILE}`, ipxe: stockIpxe, ingestEnabled: false, ingestRunning: undefined, diskFree: null, ingestStates: {} });
    assert.match(html, /<p class="bad">images\.yaml:3:5: menu\.title: &#60;script&#62;/);
  });

  it('says which iPXE binaries are served: stock, with what is missing, or our build with keymap and version', () => {
    const stock = renderDashboardPage({ title: 'Lab', clients: [], lastEventId: 0, images: [], ipxe: stockIpxe, ingestEnabled: false, ingestRunning: undefined, diskFree: null, ingestStates: {} });
    assert.match(stock, /<dt>Kind<\/dt><dd>stock/);
    assert.match(
      stock,
      new RegExp(
        '<dt>Missing</dt><dd class="missing bad">x64 UEFI: ipxe\\.efi — run `bootstation ipxe build` \\(every platform\\), or `apt-get install ipxe` for the stock one</dd>' +
          '<dd class="missing">32-bit UEFI: ipxe32\\.efi — run `bootstation ipxe build` \\(every platform; Debian&#39;s stock iPXE has no ipxe32\\.efi\\)</dd>' +
          '<dd class="missing">arm64 UEFI: snp-arm64\\.efi — run `bootstation ipxe build` \\(every platform; Debian&#39;s stock iPXE has no snp-arm64\\.efi\\)</dd><dt>Lacks',
      ),
      'each missing platform on its own line, by its display name, with its fix; the required one in the alarm colour',
    );
    assert.match(stock, /<dt>Lacks<\/dt><dd>your keyboard layout \(US keys only\); bootstation&#39;s embedded script \(machines reach boot\.ipxe only through the ProxyDHCP&#39;s chain\); ipxe32\.efi \(32-bit UEFI\); snp-arm64\.efi \(arm64 UEFI\)<\/dd>/);
    assert.match(stock, /<dt>Fix<\/dt><dd>build your own with `bootstation ipxe build`, or build the Docker image the default way \(without IPXE_SOURCE=stock\)<\/dd>/);
    const own = describeIpxe({
      dir: '/data/ipxe', kind: 'own-build', files: new Map([['ipxe.efi', '/data/ipxe/ipxe.efi']]),
      build: { version: 'v2.0.0', keymap: 'de', builtAt: '2026-01-01T00:00:00Z' },
    });
    assert.deepEqual({ kind: own.kind, keymap: own.keymap, version: own.version, lacks: own.lacks, fix: own.fix }, { kind: 'bootstation build', keymap: 'de', version: 'v2.0.0', lacks: [], fix: null });
    const ownPage = renderDashboardPage({ title: 'Lab', clients: [], lastEventId: 0, images: [], ipxe: own, ingestEnabled: false, ingestRunning: undefined, diskFree: null, ingestStates: {} });
    assert.doesNotMatch(ownPage, /<dt>(Lacks|Fix)<\/dt>/, "bootstation's own build lacks nothing");
    assert.match(ownPage, /<dd class="missing">arm64 UEFI: snp-arm64\.efi — run `bootstation ipxe build --targets arm64`<\/dd>/);
    assert.deepEqual(own.missing.map((row) => [row.platform, row.file, row.required]), [['bios', 'undionly.kpxe', true], ['efi-ia32', 'ipxe32.efi', false], ['efi-arm64', 'snp-arm64.efi', false]]);
  });
});
