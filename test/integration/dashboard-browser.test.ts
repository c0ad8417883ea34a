// The dashboard in a real browser: headless Chromium (Debian package chromium) driven by playwright-core opens
// it on a running `bootstation serve`, while a fake client's DHCP, TFTP and HTTP steps are replayed on
// loopback; its row must appear and move through the steps. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { get } from 'node:http';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { freeTcpPort, freeUdpPort, startCli, waitFor } from '../support/cli.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';
import { tftpGet } from '../support/tftp-test-client.ts';
import { startHttpFixture } from '../support/http-fixture-server.ts';
import { buildTar } from '../support/ingest-archives.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = skipOrFail('dashboard-browser', existsSync(CHROMIUM) ? undefined : 'chromium is not installed (Debian package chromium)');
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const MAC = '52:54:00:d5:b0:01';
// A vendor class with markup in it: the page must show it as text.
const VENDOR = 'PXEClient:Arch:00000:UNDI:002001<b>';
// The fake client's address: not bootstation's own (127.0.0.1), and the one its DHCP, TFTP and HTTP all come from,
// since bootstation ties them together by the sender's address.
const CLIENT = '127.0.0.2';
const ADMIN_TOKEN = 'browser-test-token-0123456789';
// The archive the dashboard's Ingest button downloads, trickled out so that its progress can be watched.
const ARCHIVE = await buildTar([{ name: 'vmlinuz', content: 'k'.repeat(3_000_000) }]);
// Its next release, for a second version that Rollback can return from.
const NEXT_ARCHIVE = await buildTar([{ name: 'vmlinuz', content: 'n'.repeat(1_000_000) }]);
const TRICKLE = { bytes: 128 * 1024, everyMs: 60 };

/** GETs a URL from the fake client's address and reads the whole body. */
function fetchFromClient(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    get(url, { localAddress: CLIENT }, (response) => {
      response.on('data', () => {});
      response.on('end', resolve);
    }).on('error', reject);
  });
}

describe('the dashboard in headless Chromium', { skip }, () => {
  let dir: string;
  let server: ReturnType<typeof startCli>;
  let archives: Awaited<ReturnType<typeof startHttpFixture>>;
  let served = ARCHIVE;
  const configText = (archive: Buffer): string =>
    // ingest: manual: the ingests are the ones the test starts from the page, not the server's own.
    `server:\n  admin_token: ${ADMIN_TOKEN}\ningest:\n  mode: manual\nmenu:\n  title: Browser lab\nimages:\n` +
    `  - id: debian\n    label: Debian 12 installer\n    source: {dir: ${join(dir, 'debian')}}\n    boot: {kernel: linux, initrd: [initrd.gz]}\n` +
    `  - id: rescue\n    label: Rescue kernel\n    source: {url: "${archives.url('/rescue.tar')}", sha256: ${createHash('sha256').update(archive).digest('hex')}}\n    boot: {kernel: vmlinuz}\n` +
    `  - id: netboot-xyz\n    label: netboot.xyz\n    chain: https://boot.netboot.xyz\n`;
  let ports: { http: number; tftp: number; dhcp: number; pxe: number };
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bootstation-browser-'));
    await mkdir(join(dir, 'data', 'ipxe'), { recursive: true });
    await mkdir(join(dir, 'debian'), { recursive: true });
    await writeFile(join(dir, 'data', 'ipxe', 'undionly.kpxe'), Buffer.alloc(70_000, 1));
    await writeFile(join(dir, 'debian', 'linux'), Buffer.alloc(6_000_000, 2));
    await writeFile(join(dir, 'debian', 'initrd.gz'), Buffer.alloc(3_000_000, 3));
    archives = await startHttpFixture((_request, response) => {
      const archive = served;
      response.writeHead(200, { 'content-length': String(archive.length), 'content-type': 'application/octet-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        const chunk = archive.subarray(sent, sent + TRICKLE.bytes);
        sent += chunk.length;
        response.write(chunk);
        if (sent >= archive.length) {
          clearInterval(timer);
          response.end();
        }
      }, TRICKLE.everyMs);
      response.on('close', () => clearInterval(timer));
    });
    await writeFile(join(dir, 'images.yaml'), configText(ARCHIVE));
    ports = { http: await freeTcpPort(), tftp: await freeUdpPort(), dhcp: await freeUdpPort(), pxe: await freeUdpPort() };
    server = startCli([
      'serve', '--config', join(dir, 'images.yaml'), '--data', join(dir, 'data'), '--address', '127.0.0.1',
      '--http-port', String(ports.http), '--tftp-port', String(ports.tftp), '--dhcp-port', String(ports.dhcp), '--pxe-port', String(ports.pxe),
    ]);
    await waitFor('bootstation to serve', async () => server.output().includes('bootstation serving'));
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
    });
    page = context.pages()[0] ?? (await context.newPage());
    // A script, style or request the Content-Security-Policy blocks is reported as a console error.
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  after(async () => {
    await context?.close();
    server?.child.kill('SIGTERM');
    await server?.exited;
    await archives?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows a client row that appears on its DHCP request and follows it through TFTP, menu, kernel and initrd', async () => {
    const response = await page.goto(`http://127.0.0.1:${ports.http}/`);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/, 'the page is served under its policy');
    assert.equal(await page.locator('h1').textContent(), 'Browser lab');
    await page.locator('#live.on').waitFor();
    assert.ok(await page.locator('#no-clients').isVisible(), 'no client yet');
    const row = page.locator(`#clients tbody tr[data-key="${MAC}"]`);

    await dhcpRequest();
    await row.waitFor();
    await waitForText(row.locator('td.step'), 'DHCP');
    assert.equal(await row.locator('td').nth(1).textContent(), 'BIOS, PXE', 'the platform by the platform table\'s name, live');
    assert.equal(await row.locator('td').nth(2).textContent(), CLIENT);
    assert.equal(await page.locator('#no-clients').isVisible(), false);

    await tftpGet({ port: ports.tftp, file: 'undionly.kpxe', options: [{ name: 'blksize', value: '1408' }], from: CLIENT });
    await waitForText(row.locator('td.step'), 'TFTP');
    assert.match((await row.locator('ol.timeline li', { hasText: 'TFTP' }).textContent()) ?? '', /^TFTP 68\.4 KiB/);

    const base = `http://127.0.0.1:${ports.http}`;
    await fetchFromClient(`${base}/boot.ipxe?mac=${MAC}&platform=pcbios&buildarch=i386`);
    await fetchFromClient(`${base}/menu.ipxe?mac=${MAC}&platform=pcbios&buildarch=i386`);
    await waitForText(row.locator('td.step'), 'menu');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-menu.png'), fullPage: true });

    await fetchFromClient(`${base}/images/debian/linux`);
    await fetchFromClient(`${base}/images/debian/initrd.gz`);
    await waitForText(row.locator('td.step'), 'initrd');
    const steps = await row.locator('ol.timeline li b').allTextContents();
    assert.deepEqual(steps, ['DHCP', 'TFTP', 'script', 'menu', 'kernel', 'initrd']);
    assert.match((await row.locator('ol.timeline li', { hasText: 'kernel' }).textContent()) ?? '', /^kernel 5\.72 MiB/);
    assert.equal(await page.locator('#clients tbody tr').count(), 1, 'one machine, one row');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live.png'), fullPage: true });
  });

  it('shows the vendor class of a turned-away PXE client as text, not markup', async () => {
    await dhcpRequest({ mac: '52:54:00:d5:b0:02', architecture: 11, vendorClass: VENDOR });
    const row = page.locator('#clients tbody tr[data-key="52:54:00:d5:b0:02"]');
    await waitForText(row.locator('td.step'), 'DHCP failed');
    assert.equal(await row.locator('td').nth(1).textContent(), VENDOR);
    assert.equal(await row.locator('td b').count(), 1, 'only the timeline label is bold; the vendor class made no element');
  });

  it('lists the images and the iPXE binaries', async () => {
    await page.reload();
    assert.equal(await page.locator(`#clients tbody tr[data-key="${MAC}"] td`).nth(1).textContent(), 'BIOS, PXE', 'the same name rendered by the server');
    assert.equal(await page.locator('#images tr[data-image="debian"] td.state').textContent(), 'ready');
    assert.match((await page.locator('#ipxe').textContent()) ?? '', /Kindcustom/);
    // Only undionly.kpxe is there: each platform without its first stage is named as the platform table names it.
    const missing = page.locator('#ipxe dd.missing');
    assert.deepEqual(
      (await missing.allTextContents()).map((line) => line.split(' — ')[0]),
      ['x64 UEFI: ipxe.efi', '32-bit UEFI: ipxe32.efi', 'arm64 UEFI: snp-arm64.efi'],
    );
    assert.match((await missing.first().textContent()) ?? '', /— put your ipxe\.efi next to the others, or run `bootstation ipxe build` \(every platform\)/);
    const colour = (index: number) => missing.nth(index).evaluate((element) => getComputedStyle(element).color);
    assert.equal(await colour(0), 'rgb(207, 34, 46)', 'x64 UEFI is required: shown in the alarm colour');
    assert.notEqual(await colour(2), 'rgb(207, 34, 46)', 'arm64 UEFI is optional: not in the alarm colour');
    assert.equal(await page.locator('#clients tbody tr').count(), 2, 'the server renders the rows the stream built');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });
  });

  it('shows an ingest started with the admin token live: "downloading N %", then ready and how it was verified', async () => {
    await page.reload();
    const row = page.locator('#images tr[data-image="rescue"]');
    assert.equal(await row.locator('td.state').textContent(), 'not ingested');
    assert.equal(await row.locator('td.verified').textContent(), 'not ingested yet');
    assert.equal(await page.locator('#images tr[data-image="debian"] td.verified').textContent(), 'your own files (not checked)');
    assert.equal(await page.locator('#images tr[data-image="netboot-xyz"] td.state').textContent(), 'ready', 'a chain image has no files to wait for');
    assert.equal(await page.locator('#images tr[data-image="netboot-xyz"] button').count(), 0, 'a chain image is not ingested');
    await page.locator('#token').fill(ADMIN_TOKEN);
    assert.match((await page.locator('#disk-free').textContent()) ?? '', /^\d[\d.]* (MiB|GiB|TiB)$/, 'the free space of the data folder');
    assert.ok(await row.locator('button[data-action="rollback"]').isDisabled(), 'nothing to roll back to yet');
    await row.locator('button[data-action="ingest"]').click();
    // Progress events come at most every 500 ms; the trickled download takes about 1.4 s.
    const seen = new Set<string>();
    await waitFor('the ingest to end', async () => {
      const state = (await row.locator('td.state').textContent()) ?? '';
      seen.add(state);
      return state === 'ready' || state.startsWith('failed') || undefined;
    }, 30_000);
    const percents = [...seen].filter((state) => /^downloading \d+ %$/.test(state));
    assert.ok(percents.length > 0, `the state cell should have said "downloading N %" on the way; it said ${JSON.stringify([...seen])}`);
    assert.equal(await row.locator('td.state').textContent(), 'ready');
    assert.equal(await row.locator('td.verified').textContent(), 'archive verified (sha256 from images.yaml)');
    assert.equal(await row.locator('td').nth(4).textContent(), '2.86 MiB', 'the disk the one version takes');
    assert.equal(await row.locator('button[data-action="ingest"]').textContent(), 'Re-ingest');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-ingested.png'), fullPage: true });
  });

  it('Check now asks for a new release; a second version can be rolled back from with one click', async () => {
    const row = page.locator('#images tr[data-image="rescue"]');
    const checked = page.waitForResponse((response) => response.url().endsWith('/api/images/rescue/check'));
    await row.locator('button[data-action="check"]').click();
    assert.equal((await checked).status(), 202, 'the check is queued');
    await waitFor('the check to end', async () => (await row.locator('button[data-action="ingest"]').isEnabled()) || undefined, 30_000);

    served = NEXT_ARCHIVE;
    await writeFile(join(dir, 'images.yaml'), configText(NEXT_ARCHIVE));
    await waitFor('the reload', async () => server.output().split('configuration reloaded').length > 1 || undefined);
    await row.locator('button[data-action="ingest"]').click();
    await waitFor('the second version', async () => (await row.locator('td').nth(4).textContent()) === '3.81 MiB (2 versions)' || undefined, 30_000);
    const rollback = row.locator('button[data-action="rollback"]');
    await waitFor('Rollback to be offered', async () => (await rollback.isEnabled()) || undefined);
    await rollback.click();
    await waitFor('the rollback', async () => /^rolled back to /.test((await row.locator('.progress').textContent()) ?? '') || undefined, 10_000);
    assert.equal(await row.locator('td.state').textContent(), 'ready');
    const served_ = await fetch(`http://127.0.0.1:${ports.http}/images/rescue/vmlinuz`);
    assert.equal((await served_.arrayBuffer()).byteLength, 3_000_000, 'the first version is served again');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-rolled-back.png'), fullPage: true });
  });

  it('ran under its Content-Security-Policy without a violation', () => {
    assert.deepEqual(cspViolations, []);
  });

  async function dhcpRequest(overrides: { mac?: string; architecture?: number; vendorClass?: string } = {}): Promise<void> {
    // From the fake client's address to the PXE port, with ciaddr that address (ciaddr counts only when it is
    // the sender's); the answer is unicast and stays on loopback.
    const socket = createSocket('udp4');
    socket.bind(0, CLIENT);
    await once(socket, 'listening');
    const request = pxeClientRequest({ mac: overrides.mac ?? MAC, ciaddr: CLIENT, messageType: 3, architecture: overrides.architecture, vendorClass: overrides.vendorClass });
    await new Promise<void>((resolve, reject) => socket.send(encodeDhcpPacket(request), ports.pxe, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
    socket.close();
  }
});

async function waitForText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  await waitFor(`"${text}" in the page`, async () => (await locator.textContent({ timeout: 1000 })) === text || undefined);
}

