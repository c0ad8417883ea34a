import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { renderMenu } from '../../src/boot/scripts.ts';

const memtest: ImageConfig = {
  id: 'memtest',
  label: 'Memtest86+',
  dir: '/data/images/memtest',
  kernel: 'memtest.bin',
  initrds: [],
  args: '',
  families: ['bios'],
  moreBoots: [{ kernel: 'EFI/BOOT/memtest.efi', initrds: [], args: 'console=ttyS0', families: ['efi'] }],
};
const ubuntu: ImageConfig = {
  id: 'ubuntu',
  label: 'Ubuntu',
  dir: '/data/images/ubuntu',
  kernel: 'casper/vmlinuz',
  initrds: ['casper/initrd'],
  args: 'ip=dhcp url=${iso-url}',
  ingest: { from: { kind: 'url', url: 'https://example.org/u.iso', fetch: 'all' }, insecure: false, extract: [], keepArchiveAs: 'ubuntu 24.04.iso' },
};
const config: BootstationConfig = {
  server: { httpPort: 80, proxyDhcp: true },
  menu: { title: 'Menu', timeoutSeconds: 5 },
  ipxe: { keymap: 'us' },
  images: [memtest, ubuntu],
  hosts: new Map(),
};

const menuFor = (platform?: string): string =>
  renderMenu({ config, serverUrl: 'http://10.77.0.2', client: platform ? { platform } : {}, missingFiles: new Map() });

test('per-firmware files: UEFI clients boot the .efi, BIOS and unknown clients the default files', () => {
  assert.match(menuFor('efi'), /^kernel \$\{base-url\}EFI\/BOOT\/memtest\.efi console=ttyS0 \|\| goto bs-failed$/m);
  assert.match(menuFor('pcbios'), /^kernel \$\{base-url\}memtest\.bin \|\| goto bs-failed$/m);
  assert.match(menuFor(), /^kernel \$\{base-url\}memtest\.bin \|\| goto bs-failed$/m);
});

test('an image that keeps its archive sets ${iso-url} next to ${base-url}, before the kernel line', () => {
  const section = menuFor('efi').split(':bs-image-ubuntu\n')[1] ?? '';
  const lines = section.split('\n');
  const base = lines.indexOf('set base-url http://10.77.0.2/images/ubuntu/');
  assert.ok(base >= 0, 'set base-url present');
  assert.equal(lines[base + 1], 'set iso-url ${base-url}ubuntu%2024.04.iso');
  assert.match(lines[base + 2] ?? '', /^kernel \$\{base-url\}casper\/vmlinuz initrd=initrd ip=dhcp url=\$\{iso-url\} \|\| goto bs-failed$/);
  assert.doesNotMatch(menuFor('efi').split(':bs-image-ubuntu')[0] ?? '', /iso-url/, 'only images that keep an archive set it');
});

test('an archive placed inside the initramfs is loaded last, named on the kernel line, with its path after the URL', () => {
  const proxmox: ImageConfig = {
    id: 'proxmox',
    label: 'Proxmox VE',
    dir: '/data/images/proxmox',
    kernel: 'boot/linux26',
    initrds: ['boot/initrd.img'],
    args: 'ramdisk_size=16777216 rw',
    archiveInitrdAt: '/proxmox.iso',
    ingest: { from: { kind: 'path', path: '/isos/proxmox-ve_8.2-1.iso' }, insecure: false, extract: [], keepArchiveAs: 'proxmox-ve_8.2-1.iso' },
  };
  const menu = renderMenu({ config: { ...config, images: [proxmox] }, serverUrl: 'http://10.77.0.2', client: { platform: 'efi' }, missingFiles: new Map() });
  assert.match(menu, /^kernel \$\{base-url\}boot\/linux26 initrd=initrd\.img initrd=proxmox-ve_8\.2-1\.iso ramdisk_size=16777216 rw \|\| goto bs-failed$/m);
  assert.match(menu, /^initrd --name initrd\.img \$\{base-url\}boot\/initrd\.img \|\| goto bs-failed\ninitrd --name proxmox-ve_8\.2-1\.iso \$\{base-url\}proxmox-ve_8\.2-1\.iso \/proxmox\.iso \|\| goto bs-failed\nboot/m);
  const withoutArchive = renderMenu({ config: { ...config, images: [{ ...proxmox, ingest: undefined }] }, serverUrl: 'http://10.77.0.2', client: {}, missingFiles: new Map() });
  assert.doesNotMatch(withoutArchive, /proxmox\.iso/, 'no archive kept: no archive initrd');
});
