// The boot policy end to end: a set of paths gets the same verdict over TFTP and HTTP, each asked on a real socket
// of a server wired as `bootstation serve` wires it (TFTP's file source is findBootFile, HTTP is buildHttpApp).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { findBootFile } from '../../src/boot/policy.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import type { BootEventInput } from '../../src/events/model.ts';
import { openForReading } from '../../src/files/boot-files.ts';
import { buildHttpApp } from '../../src/http/app.ts';
import { findIpxeBinaries, STOCK_MARKER } from '../../src/ipxe/binaries.ts';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { TftpErrorReply, tftpGet } from '../support/tftp-test-client.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-policy-'));
const ipxeDir = join(root, 'ipxe');
const bootDir = join(root, 'boot');
const imageDir = join(root, 'images', 'debian');

// A data folder shaped like an image built with IPXE_SOURCE=stock: first-stage binaries that are symlinks out of the
// folder (Debian's into /boot), the stock marker (a dotfile), a script of the user's, an autoexec.ipxe, a link out.
await mkdir(ipxeDir, { recursive: true });
await mkdir(bootDir);
await mkdir(join(imageDir, 'sub'), { recursive: true });
await writeFile(join(bootDir, 'undionly.kpxe'), 'BIOS BINARY');
await writeFile(join(bootDir, 'ipxe.efi'), 'EFI BINARY');
await symlink(join(bootDir, 'undionly.kpxe'), join(ipxeDir, 'undionly.kpxe'));
await symlink(join(bootDir, 'ipxe.efi'), join(ipxeDir, 'ipxe.efi'));
await writeFile(join(ipxeDir, STOCK_MARKER), '');
await writeFile(join(ipxeDir, 'local.ipxe'), '#!ipxe\nchain boot.ipxe\n');
await writeFile(join(ipxeDir, 'autoexec.ipxe'), '#!ipxe\nshell\n');
await writeFile(join(root, 'secret'), 'SECRET\n');
await symlink(join(root, 'secret'), join(ipxeDir, 'leak'));
await writeFile(join(imageDir, 'linux'), 'KERNEL');
await writeFile(join(imageDir, 'initrd.gz'), 'INITRD');
await writeFile(join(imageDir, 'sub', 'file.txt'), 'in a sub-folder\n');
await writeFile(join(imageDir, '.manifest.json'), '{"source":{"url":"https://user:password@mirror.example/x.iso"}}');
await symlink(join(root, 'secret'), join(imageDir, 'passwd'));

const debian = { id: 'debian', label: 'Debian', dir: imageDir, kernel: 'linux', initrds: ['initrd.gz'], args: '' } as ImageConfig;
const config = { images: [debian] } as unknown as BootstationConfig;
const ipxe = await findIpxeBinaries(ipxeDir, join(root, 'no-stock'));
const log = pino({ level: 'silent' });
const events: BootEventInput[] = [];
const app = buildHttpApp({ config: () => config, serverUrl: () => 'http://127.0.0.1', ipxe: () => ipxe, log, events: { emit: (event) => events.push(event) } });
let tftp: TftpService;
let httpPort = 0;

before(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  httpPort = (app.server.address() as AddressInfo).port;
  tftp = await createTftpService({
    address: '127.0.0.1',
    port: 0,
    log,
    // As the appliance wires it.
    files: async (path) => {
      const found = await findBootFile(path, ipxe, config);
      return found.ok ? openForReading(found.path) : undefined;
    },
  });
});
after(async () => {
  await tftp.close();
  await app.close();
  await rm(root, { recursive: true, force: true });
});

/** What a client got: the bytes, or undefined for "not found" (TFTP ERROR 1, HTTP 404). */
async function overTftp(name: string): Promise<string | undefined> {
  try {
    return (await tftpGet({ port: tftp.port, file: name, retries: 2, timeoutMs: 2000 })).data.toString();
  } catch (error) {
    if (error instanceof TftpErrorReply && error.code === 1) return undefined;
    throw error;
  }
}

/** GET of a raw path, sent byte for byte (no client-side normalisation of "..", "%2e"). */
function overHttp(path: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port: httpPort, path }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode === 200) resolve(Buffer.concat(chunks).toString());
        else if (response.statusCode === 404) resolve(undefined);
        else reject(new Error(`${path}: HTTP ${response.statusCode}`));
      });
    });
    request.on('error', reject);
  });
}

describe('the same path gets the same verdict over TFTP and HTTP', () => {
  // [TFTP name, HTTP path, what both serve (undefined: refused)]. TFTP names the iPXE folder at its root, HTTP
  // under /ipxe/; images/<id>/ is the same on both.
  const cases: Array<[string, string, string | undefined]> = [
    ['undionly.kpxe', '/ipxe/undionly.kpxe', 'BIOS BINARY'],
    ['ipxe.efi', '/ipxe/ipxe.efi', 'EFI BINARY'],
    ['local.ipxe', '/ipxe/local.ipxe', '#!ipxe\nchain boot.ipxe\n'],
    ['images/debian/linux', '/images/debian/linux', 'KERNEL'],
    ['images/debian/initrd.gz', '/images/debian/initrd.gz', 'INITRD'],
    ['images/debian/sub/file.txt', '/images/debian/sub/file.txt', 'in a sub-folder\n'],
    ['autoexec.ipxe', '/ipxe/autoexec.ipxe', undefined],
    [STOCK_MARKER, `/ipxe/${STOCK_MARKER}`, undefined],
    ['images/debian/.manifest.json', '/images/debian/.manifest.json', undefined],
    ['leak', '/ipxe/leak', undefined],
    ['images/debian/passwd', '/images/debian/passwd', undefined],
    ['../secret', '/ipxe/../secret', undefined],
    ['images/debian/../../secret', '/images/debian/../../secret', undefined],
    ['images/debian/../../secret', '/images/debian/%2e%2e/%2e%2e/secret', undefined],
    ['images/nope/linux', '/images/nope/linux', undefined],
    ['images/debian/missing', '/images/debian/missing', undefined],
    ['images/debian/sub', '/images/debian/sub', undefined],
  ];
  for (const [name, path, expected] of cases) {
    test(`${name} and ${path}: ${expected === undefined ? 'refused' : 'served'}`, async () => {
      const [byTftp, byHttp] = await Promise.all([overTftp(name), overHttp(path)]);
      assert.equal(byTftp, expected, `over TFTP: ${name}`);
      assert.equal(byHttp, expected, `over HTTP: ${path}`);
    });
  }
});

describe("HTTP boot events carry the route's role and the policy's verdict", () => {
  // [request, the event's role, image and mac; undefined: no event]
  const cases: Array<[string, { role: string; image?: string; mac?: string } | undefined]> = [
    ['/boot.ipxe?mac=52-54-00-AB-CD-EF&platform=efi', { role: 'boot-script', mac: '52:54:00:ab:cd:ef' }],
    ['/menu.ipxe?mac=52:54:00:00:00:01', { role: 'menu', mac: '52:54:00:00:00:01' }],
    ['/ipxe/undionly.kpxe', { role: 'ipxe-binary' }],
    ['/ipxe/autoexec.ipxe', { role: 'ipxe-binary' }],
    ['/images/debian/linux?mac=52:54:00:00:00:01', { role: 'kernel', image: 'debian' }],
    ['/images/debian/initrd.gz', { role: 'initrd', image: 'debian' }],
    ['/images/debian/sub/file.txt', { role: 'image-file', image: 'debian' }],
    // (inject() resolves %2e%2e as a URL parser does, so the refused path here is one it leaves alone)
    ['/images/debian/..%2fsecret', { role: 'image-file', image: 'debian' }],
    ['/images/nope/linux', undefined],
    ['/images/%2e%2e/secret', undefined],
    ['/healthz', undefined],
  ];
  for (const [url, expected] of cases) {
    test(`${url} → ${expected?.role ?? 'no event'}`, async () => {
      events.length = 0;
      await app.inject({ method: 'GET', url });
      await app.inject({ method: 'HEAD', url });
      const reported = events.map((event) => (event.kind === 'http-fetch' ? { role: event.role, image: event.image, mac: event.mac, path: event.path } : event));
      const path = url.split('?', 1)[0];
      assert.deepEqual(reported, expected ? [{ image: undefined, mac: undefined, ...expected, path }] : [], 'one event per GET, none for HEAD');
    });
  }
});
