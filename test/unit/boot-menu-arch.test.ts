import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KernelHeaders } from '../../src/boot/kernel-fit.ts';
import type { KernelHeader } from '../../src/boot/kernel-header.ts';
import { PLATFORMS, type PlatformId } from '../../src/boot/platform.ts';
import { renderBootScript, renderMenu, type ScriptContext } from '../../src/boot/scripts.ts';
import type { BootClient } from '../../src/boot/client.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { assertGolden } from '../support/golden.ts';

// The menu per client architecture. Regenerate the golden files with:
// UPDATE_GOLDEN=1 node --test test/unit/boot-menu-arch.test.ts

const SERVER = 'http://10.77.0.2';
const MAC = '52:54:00:aa:bb:cc';
const HOST_X64_ONLY = '52:54:00:00:00:64';

// Headers as decodeKernelHeader reads Debian's kernels (test/integration/kernel-header-debian.test.ts checks the real ones).
const AMD64: KernelHeader = { format: 'bzimage', cpu: 'x86_64', protocol: 0x020f, handover: { efi32: true, efi64: true }, efi: { machine: 0x8664, cpu: 'x86_64' } };
const I686: KernelHeader = { format: 'bzimage', cpu: 'i386', protocol: 0x020f, handover: { efi32: true, efi64: false }, efi: { machine: 0x014c, cpu: 'i386' } };
const ARM64: KernelHeader = { format: 'arm64-image', efi: { machine: 0xaa64, cpu: 'arm64' } };
const MEMTEST_BIN: KernelHeader = { format: 'bzimage', cpu: 'x86_64', protocol: 0x020c, handover: { efi32: false, efi64: false } };
const MEMTEST_EFI: KernelHeader = { format: 'pe', efi: { machine: 0x8664, cpu: 'x86_64' } };

const spec = (arch: string) => ({ kernel: `${arch}/vmlinuz`, initrds: [`${arch}/initrd.cpio`], args: 'console=ttyS0' });
// The lab's image: one boot spec per architecture, i386 first (as images.yaml's list form gives them).
const lab: ImageConfig = { id: 'lab', label: 'Lab marker', dir: '/srv/lab', ...spec('i386'), moreBoots: [spec('amd64'), spec('arm64')] };
const x64Only: ImageConfig = { id: 'x64only', label: 'Lab marker, x86_64 kernel only', dir: '/srv/lab', ...spec('amd64') };
const memtest: ImageConfig = {
  id: 'memtest',
  label: 'Memtest86+',
  dir: '/srv/memtest',
  kernel: 'memtest64.bin',
  initrds: [],
  args: '',
  families: ['bios'],
  moreBoots: [{ kernel: 'memtest64.efi', initrds: [], args: '', families: ['efi'] }],
};
// Its kernel's header is not known (not read yet, or unreadable): never hidden.
const mystery: ImageConfig = { id: 'mystery', label: 'Unreadable kernel', dir: '/srv/mystery', kernel: 'vmlinuz', initrds: [], args: '' };

const KERNELS: KernelHeaders = new Map([
  ['lab', new Map<string, KernelHeader>([['i386/vmlinuz', I686], ['amd64/vmlinuz', AMD64], ['arm64/vmlinuz', ARM64]])],
  ['x64only', new Map<string, KernelHeader>([['amd64/vmlinuz', AMD64]])],
  ['memtest', new Map<string, KernelHeader>([['memtest64.bin', MEMTEST_BIN], ['memtest64.efi', MEMTEST_EFI]])],
]);

function makeConfig(defaultImage = 'lab'): BootstationConfig {
  return {
    server: { httpPort: 80, proxyDhcp: true },
    menu: { title: 'Lab network boot', defaultImage, timeoutSeconds: 5 },
    ipxe: {},
    images: [lab, x64Only, memtest, mystery],
    hosts: new Map([[HOST_X64_ONLY, { image: 'x64only' }]]),
  };
}

function context(client: BootClient, extra: Partial<ScriptContext> = {}): ScriptContext {
  return { config: makeConfig(), serverUrl: SERVER, client, missingFiles: new Map(), kernels: KERNELS, ...extra };
}

const reported = (id: PlatformId): BootClient => {
  const row = PLATFORMS.find((platform) => platform.id === id)!;
  return { mac: MAC, platform: row.ipxe.platform, buildarch: row.ipxe.buildarch };
};
const itemIds = (script: string): string[] => [...script.matchAll(/^item bs-image-(\S+)/gm)].map((m) => m[1]!);
const hiddenLines = (script: string): string[] => script.split('\n').filter((line) => line.startsWith('# hidden:'));
// The kernel each image's label boots, in the order the script lists them.
const kernelsBooted = (script: string): Record<string, string> =>
  Object.fromEntries([...script.matchAll(/^:bs-image-(\S+)\n(?:.*\n)*?kernel \$\{base-url\}(\S+)/gm)].map((m) => [m[1]!, m[2]!]));

describe('the menu per client architecture', () => {
  test('BIOS: every x86 kernel starts, the first spec (i386) boots, memtest86+ boots its .bin, arm64 is never chosen', () => {
    const menu = renderMenu(context(reported('bios')));
    assertGolden('scripts/menu-arch-bios.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['lab', 'x64only', 'memtest', 'mystery']);
    assert.deepEqual(hiddenLines(menu), []);
    assert.deepEqual(kernelsBooted(menu), { lab: 'i386/vmlinuz', x64only: 'amd64/vmlinuz', memtest: 'memtest64.bin', mystery: 'vmlinuz' });
  });

  test('x64 UEFI: the i386 kernel (PE 0x14c) does not fit, so the lab boots its amd64 spec', () => {
    const menu = renderMenu(context(reported('efi-x64')));
    assertGolden('scripts/menu-arch-efi-x64.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['lab', 'x64only', 'memtest', 'mystery']);
    assert.deepEqual(kernelsBooted(menu), { lab: 'amd64/vmlinuz', x64only: 'amd64/vmlinuz', memtest: 'memtest64.efi', mystery: 'vmlinuz' });
  });

  test('32-bit UEFI: the x86_64 entry is hidden, with the reason; the lab boots its i386 kernel', () => {
    const menu = renderMenu(context(reported('efi-ia32')));
    assertGolden('scripts/menu-arch-efi-ia32.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['lab', 'mystery']);
    assert.deepEqual(hiddenLines(menu), ['# hidden: x64only (x86_64 kernel; this is 32-bit UEFI)', '# hidden: memtest (x86_64 EFI program; this is 32-bit UEFI)']);
    assert.deepEqual(kernelsBooted(menu), { lab: 'i386/vmlinuz', mystery: 'vmlinuz' });
  });

  test('arm64 UEFI: only the arm64 spec fits; x86 images are hidden', () => {
    const menu = renderMenu(context(reported('efi-arm64')));
    assertGolden('scripts/menu-arch-efi-arm64.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['lab', 'mystery']);
    assert.deepEqual(hiddenLines(menu), ['# hidden: x64only (x86_64 kernel; this is arm64 UEFI)', '# hidden: memtest (x86_64 EFI program; this is arm64 UEFI)']);
    assert.deepEqual(kernelsBooted(menu), { lab: 'arm64/vmlinuz', mystery: 'vmlinuz' });
  });

  test('a client that says nothing: nothing is hidden and each image boots its first spec, as before', () => {
    const menu = renderMenu(context({}));
    assertGolden('scripts/menu-arch-unknown.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['lab', 'x64only', 'memtest', 'mystery']);
    assert.deepEqual(kernelsBooted(menu), { lab: 'i386/vmlinuz', x64only: 'amd64/vmlinuz', memtest: 'memtest64.bin', mystery: 'vmlinuz' });
  });

  test('without kernel headers (none read yet) only the firmware family filters', () => {
    const menu = renderMenu(context(reported('efi-ia32'), { kernels: undefined }));
    assert.deepEqual(itemIds(menu), ['lab', 'x64only', 'memtest', 'mystery']);
  });

  test("images.yaml's arch: decides over the header", () => {
    const declared: ImageConfig = { ...x64Only, arch: 'i386' };
    const menu = renderMenu(context(reported('efi-ia32'), { config: { ...makeConfig(), images: [declared] } }));
    assert.deepEqual(itemIds(menu), ['x64only']);
  });
});

describe("the client's platform from ProxyDHCP's option 93", () => {
  test('an iPXE that reports ${platform} but no ${buildarch} gets the row DHCP learnt for its MAC', () => {
    const menu = renderMenu(context({ mac: MAC, platform: 'efi' }, { dhcpPlatform: 'efi-ia32' }));
    assert.deepEqual(itemIds(menu), ['lab', 'mystery']);
    assert.match(menu, /^# bootstation menu for 52:54:00:aa:bb:cc efi \(efi-ia32 as ProxyDHCP saw it\)$/m);
  });

  test('a client that reports nothing gets the firmware filter of the row DHCP learnt, too', () => {
    const efiOnly: ImageConfig = { ...mystery, id: 'efi-only', firmware: ['efi'] };
    const config = { ...makeConfig(), images: [lab, efiOnly] };
    assert.deepEqual(itemIds(renderMenu(context({ mac: MAC }, { config, dhcpPlatform: 'bios' }))), ['lab']);
    assert.deepEqual(itemIds(renderMenu(context({ mac: MAC }, { config }))), ['lab', 'efi-only']);
  });

  test("iPXE's own ${buildarch} wins over DHCP, and a DHCP row of another firmware family is not believed", () => {
    assert.deepEqual(itemIds(renderMenu(context(reported('efi-x64'), { dhcpPlatform: 'efi-ia32' }))), ['lab', 'x64only', 'memtest', 'mystery']);
    assert.deepEqual(itemIds(renderMenu(context({ mac: MAC, platform: 'efi' }, { dhcpPlatform: 'bios' }))), ['lab', 'x64only', 'memtest', 'mystery']);
  });
});

describe('defaults and assigned images that cannot start', () => {
  test('a menu default that is hidden gives no default', () => {
    const menu = renderMenu(context(reported('efi-ia32'), { config: makeConfig('x64only') }));
    assert.match(menu, /^set bs-timeout 0$/m);
    assert.doesNotMatch(menu, /--default/);
    assert.match(renderMenu(context(reported('efi-x64'), { config: makeConfig('x64only') })), /--default bs-image-x64only/);
  });

  test('a host-assigned image the client cannot start shows the menu, with one line saying why', () => {
    const script = renderBootScript(context({ mac: HOST_X64_ONLY, platform: 'efi', buildarch: 'i386' }));
    assertGolden('scripts/boot-host-cannot-start.ipxe', script);
    assert.match(script, /^echo Lab marker, x86_64 kernel only is assigned to this machine but cannot start here \(x86_64 kernel; this is 32-bit UEFI\); showing the menu\.$/m);
    assert.match(script, /^chain --autofree http:\/\/10\.77\.0\.2\/menu\.ipxe\?mac=52%3A54%3A00%3A00%3A00%3A64&platform=efi&buildarch=i386 \|\| shell$/m);
    const x64 = renderBootScript(context({ mac: HOST_X64_ONLY, platform: 'efi', buildarch: 'x86_64' }));
    assert.match(x64, /^kernel \$\{base-url\}amd64\/vmlinuz /m, 'x64 UEFI boots it');
  });
});
