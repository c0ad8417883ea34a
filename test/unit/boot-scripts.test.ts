import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderBootScript, renderMenu, imageBaseUrl, type ScriptContext } from '../../src/boot/scripts.ts';
import { clientQuery, firmwareFamily, parseBootClient, type BootClient } from '../../src/boot/client.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { assertGolden } from '../support/golden.ts';

// Regenerate the golden files with: UPDATE_GOLDEN=1 node --test test/unit/boot-scripts.test.ts

const SERVER = 'http://10.77.0.2';

const debian: ImageConfig = {
  id: 'debian',
  label: 'Debian 12 installer',
  dir: '/srv/netboot/debian',
  kernel: 'linux',
  initrds: ['initrd.gz'],
  args: 'console=ttyS0 priority=low',
};
const memtest: ImageConfig = { id: 'memtest', label: 'Memtest86+ (BIOS only)', dir: '/srv/netboot/memtest', kernel: 'memtest.bin', initrds: [], args: '', firmware: ['bios'] };
const sysrcd: ImageConfig = {
  id: 'sysrcd',
  label: 'SystemRescue 11 (EFI only)',
  dir: '/srv/netboot/sysrcd',
  kernel: 'sysresccd/boot/x86_64/vmlinuz',
  // two initrds share the basename sysresccd.img
  initrds: ['sysresccd/boot/intel_ucode.img', 'sysresccd/boot/amd_ucode.img', 'sysresccd/boot/x86_64/sysresccd.img', 'extra/sysresccd.img'],
  args: 'archisobasedir=sysresccd archiso_http_srv=${base-url} BOOTIF=01-${net0/mac:hexhyp} ip=dhcp',
  firmware: ['efi'],
};
const ubuntu: ImageConfig = { id: 'ubuntu', label: 'Ubuntu 24.04 live', dir: '/srv/netboot/ubuntu', kernel: 'casper/vmlinuz', initrds: ['casper/initrd'], args: 'ip=dhcp', firmware: ['bios', 'efi'] };

const HOST_SYSRCD = '52:54:00:12:34:56';
const HOST_UBUNTU = '52:54:00:00:00:01';
const HOST_KEYMAP_ONLY = '52:54:00:00:00:02';
const HOST_DEBIAN_KEYMAP = '52:54:00:00:00:03';
const OTHER_MAC = '52:54:00:aa:bb:cc';

function makeConfig(menu: Partial<BootstationConfig['menu']> = {}, images: readonly ImageConfig[] = [debian, memtest, sysrcd, ubuntu]): BootstationConfig {
  return {
    server: { httpPort: 80, proxyDhcp: true },
    menu: { title: 'Lab network boot', defaultImage: 'debian', timeoutSeconds: 10, ...menu },
    ipxe: { keymap: 'de' },
    images,
    hosts: new Map([
      [HOST_SYSRCD, { image: 'sysrcd' }],
      [HOST_UBUNTU, { image: 'ubuntu' }],
      [HOST_KEYMAP_ONLY, { keymap: 'fr' }],
      [HOST_DEBIAN_KEYMAP, { image: 'debian', keymap: 'no-latin1' }],
    ]),
  };
}

// ubuntu's files are not on disk yet
const MISSING = new Map([['ubuntu', ['casper/vmlinuz', 'casper/initrd']]]);

function context(client: BootClient, config: BootstationConfig = makeConfig(), missingFiles: ReadonlyMap<string, readonly string[]> = MISSING): ScriptContext {
  return { config, serverUrl: SERVER, client, missingFiles };
}

const BIOS: BootClient = { mac: OTHER_MAC, platform: 'pcbios', buildarch: 'i386' };
const EFI: BootClient = { mac: OTHER_MAC, platform: 'efi', buildarch: 'x86_64' };

// The command lines of a script: no comments, labels or blank lines.
const commands = (script: string): string[] => script.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith(':'));
const itemIds = (script: string): string[] => [...script.matchAll(/^item (bs-image-\S+)/gm)].map((m) => m[1]!);

describe('renderMenu golden files', () => {
  test('pcbios: the EFI-only image is hidden, the BIOS-only one shown, the incomplete one not ready', () => {
    const menu = renderMenu(context(BIOS));
    assertGolden('scripts/menu-pcbios.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['bs-image-debian', 'bs-image-memtest']);
    assert.ok(!menu.includes('sysrcd'), 'the EFI-only image appears in a BIOS menu');
  });

  test('efi: the BIOS-only image is hidden, the EFI-only one shown', () => {
    const menu = renderMenu(context(EFI));
    assertGolden('scripts/menu-efi.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['bs-image-debian', 'bs-image-sysrcd']);
    assert.ok(!menu.includes('memtest'), 'the BIOS-only image appears in an EFI menu');
  });

  test('unknown platform: nothing is hidden', () => {
    const menu = renderMenu(context({ mac: OTHER_MAC, platform: 'arm64' }));
    assertGolden('scripts/menu-unknown-platform.ipxe', menu);
    assert.deepEqual(itemIds(menu), ['bs-image-debian', 'bs-image-memtest', 'bs-image-sysrcd']);
    assert.deepEqual(itemIds(renderMenu(context({}))), itemIds(menu), 'a client that said nothing sees everything too');
  });

  test('timeout 0 boots the default at once, before the menu', () => {
    const menu = renderMenu(context(EFI, makeConfig({ timeoutSeconds: 0 })));
    assertGolden('scripts/menu-timeout-0.ipxe', menu);
    const lines = menu.split('\n');
    assert.ok(lines.indexOf('goto bs-image-debian') < lines.indexOf(':bs-menu'), 'the jump to the default comes before the menu');
    assert.ok(lines.includes('set bs-timeout 0'));
  });

  test('no default: the menu waits for a key', () => {
    const menu = renderMenu(context(EFI, makeConfig({ defaultImage: undefined })));
    assertGolden('scripts/menu-no-default.ipxe', menu);
    assert.match(menu, /^set bs-timeout 0$/m);
    assert.match(menu, /^choose --timeout \$\{bs-timeout\} bs-choice \|\| goto bs-shell$/m);
  });

  test('a default whose files are missing is not booted by the timeout', () => {
    const menu = renderMenu(context(EFI, makeConfig({ defaultImage: 'ubuntu', timeoutSeconds: 0 })));
    assert.ok(!menu.includes('--default'), 'an incomplete image is the menu default');
    assert.ok(!menu.includes('goto bs-image-ubuntu'), 'the menu jumps to an incomplete image');
    assert.match(menu, /^set bs-timeout 0$/m);
  });

  test('a default hidden on this firmware is not booted by the timeout', () => {
    const menu = renderMenu(context(BIOS, makeConfig({ defaultImage: 'sysrcd' })));
    assert.ok(!menu.includes('--default'), 'an EFI-only image is the default of a BIOS menu');
    assert.match(menu, /^set bs-timeout 0$/m);
  });

  test('no images at all', () => {
    const menu = renderMenu(context(EFI, makeConfig({ defaultImage: undefined }, []), new Map()));
    assertGolden('scripts/menu-empty.ipxe', menu);
    assert.match(menu, /^item --gap -- No images are configured for this machine \(see images.yaml\)\.$/m);
  });
});

describe('renderMenu details', () => {
  test('the default with its timeout in milliseconds, and no countdown after the first display', () => {
    const menu = renderMenu(context(EFI, makeConfig({ timeoutSeconds: 7 })));
    const lines = menu.split('\n');
    assert.equal(lines[2], 'set bs-timeout 7000');
    const choose = lines.indexOf('choose --timeout ${bs-timeout} --default bs-image-debian bs-choice || goto bs-shell');
    assert.ok(choose > 0, 'the choose line with the default');
    assert.equal(lines[choose + 1], 'set bs-timeout 0', 'a later display (after a failed boot) must wait for a key');
    assert.equal(lines[choose + 2], 'goto ${bs-choice}');
  });

  test('an image with missing files is listed as not ready, with the files, and has no boot section', () => {
    const menu = renderMenu(context(EFI));
    assert.match(menu, /^item --gap -- Ubuntu 24\.04 live \(not ready: missing casper\/vmlinuz, casper\/initrd\)$/m);
    assert.ok(!menu.includes(':bs-image-ubuntu'));
  });

  test('the iPXE shell, exit and reboot items, each with its section', () => {
    const menu = renderMenu(context(EFI));
    for (const [item, body] of [
      ['item bs-shell iPXE shell', ':bs-shell\necho Type "exit" to return to the menu.\nshell\ngoto bs-menu\n'],
      ['item bs-exit Exit to local disk', ':bs-exit\nexit\n'],
      ['item bs-reboot Reboot', ':bs-reboot\nreboot\n'],
    ] as const) {
      assert.ok(menu.includes(`\n${item}\n`), `missing ${item}`);
      assert.ok(menu.includes(body), `missing section ${body.split('\n')[0]}`);
    }
  });

  test('every boot line fails over to a label that exists, which returns to the menu', () => {
    const menu = renderMenu(context({}));
    const labels = new Set([...menu.matchAll(/^:(\S+)$/gm)].map((m) => m[1]));
    for (const [, target] of menu.matchAll(/goto ([a-z0-9-]+)$/gm)) assert.ok(labels.has(target), `goto ${target} has no label`);
    assert.match(menu, /:bs-failed\necho Boot failed \(the error is shown above\)\.\nimgfree\nprompt Press any key to return to the menu\ngoto bs-menu\n/);
    for (const line of menu.split('\n').filter((l) => /^(kernel|initrd|boot)\b/.test(l))) {
      assert.ok(line.endsWith('|| goto bs-failed'), `boot line without a fallback: ${line}`);
    }
  });

  test('${base-url} and other iPXE settings in args pass through untouched, after set base-url', () => {
    const menu = renderMenu(context(EFI));
    const section = menu.slice(menu.indexOf(':bs-image-sysrcd'));
    const lines = section.split('\n');
    assert.equal(lines[3], 'set base-url http://10.77.0.2/images/sysrcd/');
    assert.equal(
      lines[4],
      'kernel ${base-url}sysresccd/boot/x86_64/vmlinuz initrd=intel_ucode.img initrd=amd_ucode.img initrd=sysresccd.img initrd=2-sysresccd.img ' +
        'archisobasedir=sysresccd archiso_http_srv=${base-url} BOOTIF=01-${net0/mac:hexhyp} ip=dhcp || goto bs-failed',
    );
    assert.equal(imageBaseUrl(SERVER, sysrcd), 'http://10.77.0.2/images/sysrcd/');
  });

  test('several initrds, each named, in order, with duplicate basenames made unique', () => {
    const menu = renderMenu(context(EFI));
    const section = menu.slice(menu.indexOf(':bs-image-sysrcd'), menu.indexOf(':bs-failed'));
    const initrds = section.split('\n').filter((line) => line.startsWith('initrd '));
    assert.deepEqual(initrds, [
      'initrd --name intel_ucode.img ${base-url}sysresccd/boot/intel_ucode.img || goto bs-failed',
      'initrd --name amd_ucode.img ${base-url}sysresccd/boot/amd_ucode.img || goto bs-failed',
      'initrd --name sysresccd.img ${base-url}sysresccd/boot/x86_64/sysresccd.img || goto bs-failed',
      'initrd --name 2-sysresccd.img ${base-url}extra/sysresccd.img || goto bs-failed',
    ]);
  });

  test('an image without initrds or args boots with a bare kernel line', () => {
    const menu = renderMenu(context(BIOS));
    assert.match(menu, /\n:bs-image-memtest\necho Booting Memtest86\+ \(BIOS only\)\nimgfree\nset base-url http:\/\/10\.77\.0\.2\/images\/memtest\/\nkernel \$\{base-url\}memtest\.bin \|\| goto bs-failed\nboot \|\| goto bs-failed\n/);
  });

  test('file names are percent-encoded in URLs, and initrd names keep to safe characters', () => {
    const odd: ImageConfig = { id: 'odd', label: 'Odd', dir: '/srv/odd', kernel: 'k#1/vm%linuz', initrds: ['a/initrd{x}.img', 'b/initrd{x}.img'], args: '' };
    const menu = renderMenu(context({}, makeConfig({ defaultImage: undefined }, [odd]), new Map()));
    assert.match(menu, /^kernel \$\{base-url\}k%231\/vm%25linuz initrd=initrd_x_\.img initrd=2-initrd_x_\.img \|\| goto bs-failed$/m);
    assert.match(menu, /^initrd --name initrd_x_\.img \$\{base-url\}a\/initrd%7Bx%7D\.img \|\| goto bs-failed$/m);
    assert.match(menu, /^initrd --name 2-initrd_x_\.img \$\{base-url\}b\/initrd%7Bx%7D\.img \|\| goto bs-failed$/m);
  });

  test('initrd names stay unique even when a file is already named like a prefixed duplicate', () => {
    const tricky: ImageConfig = { id: 'tricky', label: 'Tricky', dir: '/srv/t', kernel: 'k', initrds: ['2-x', 'a/x', 'b/x'], args: '' };
    const menu = renderMenu(context({}, makeConfig({ defaultImage: undefined }, [tricky]), new Map()));
    const names = [...menu.matchAll(/^initrd --name (\S+)/gm)].map((m) => m[1]);
    assert.equal(new Set(names).size, 3, `initrd names collide: ${names.join(' ')}`);
  });

  test('the header comment names the client', () => {
    assert.equal(renderMenu(context(EFI)).split('\n')[1], `# bootstation menu for ${OTHER_MAC} efi/x86_64`);
    assert.equal(renderMenu(context({})).split('\n')[1], '# bootstation menu');
  });
});

describe('renderBootScript', () => {
  test('without a mac: re-chains itself with iPXE\'s own ${net0/mac}, ${platform} and ${buildarch}', () => {
    const script = renderBootScript(context({}));
    assertGolden('scripts/boot-no-mac.ipxe', script);
    assert.match(script, /^chain --autofree http:\/\/10\.77\.0\.2\/boot\.ipxe\?mac=\$\{net0\/mac\}&platform=\$\{platform\}&buildarch=\$\{buildarch\} \|\| shell$/m);
    // platform alone is not enough: without a mac the host table cannot be consulted
    assert.equal(renderBootScript(context({ platform: 'efi' })), script);
  });

  test('a client that was asked but reported no usable mac gets the menu, never another re-chain', () => {
    const script = renderBootScript(context({ reported: true, platform: 'efi' }));
    assert.doesNotMatch(script, /boot\.ipxe/, 'boot.ipxe must not chain itself again');
    assert.match(script, /^chain --autofree http:\/\/10\.77\.0\.2\/menu\.ipxe\?platform=efi \|\| shell$/m);
  });

  test('a mac with a fixed host image boots it, falling back to the menu', () => {
    const script = renderBootScript(context({ mac: HOST_SYSRCD, platform: 'efi', buildarch: 'x86_64' }));
    assertGolden('scripts/boot-host-image.ipxe', script);
    assert.match(script, /^kernel \$\{base-url\}sysresccd\/boot\/x86_64\/vmlinuz /m);
    assert.match(script, /^:bs-failed$/m);
    assert.match(script, /^chain --autofree http:\/\/10\.77\.0\.2\/menu\.ipxe\?mac=52%3A54%3A00%3A12%3A34%3A56&platform=efi&buildarch=x86_64 \|\| shell$/m);
  });

  test('a host image whose files are missing falls back to the menu, saying why', () => {
    const script = renderBootScript(context({ mac: HOST_UBUNTU, platform: 'pcbios', buildarch: 'i386' }));
    assertGolden('scripts/boot-host-missing-files.ipxe', script);
    assert.ok(!/^kernel /m.test(script), 'boots an image whose files are missing');
    assert.match(script, /^echo Ubuntu 24\.04 live is assigned to this machine but its files are missing; showing the menu\.$/m);
  });

  test('any other mac selects the layout of ipxe.keymap and chains the menu, carrying what the client said', () => {
    const script = renderBootScript(context({ mac: OTHER_MAC, platform: 'pcbios', buildarch: 'i386' }));
    assertGolden('scripts/boot-menu-chain.ipxe', script);
    assert.deepEqual(commands(script), ['set keymap de', 'chain --autofree http://10.77.0.2/menu.ipxe?mac=52%3A54%3A00%3Aaa%3Abb%3Acc&platform=pcbios&buildarch=i386 || shell']);
  });

  test("a host's own layout wins over ipxe.keymap; with no image it still gets the menu", () => {
    const script = renderBootScript(context({ mac: HOST_KEYMAP_ONLY, platform: 'efi', buildarch: 'x86_64' }));
    assertGolden('scripts/boot-host-keymap-menu.ipxe', script);
    assert.deepEqual(commands(script), ['set keymap fr', 'chain --autofree http://10.77.0.2/menu.ipxe?mac=52%3A54%3A00%3A00%3A00%3A02&platform=efi&buildarch=x86_64 || shell']);
  });

  test("a host with an image and a layout selects the layout before it boots the image", () => {
    const script = renderBootScript(context({ mac: HOST_DEBIAN_KEYMAP, platform: 'pcbios', buildarch: 'i386' }));
    assertGolden('scripts/boot-host-image-keymap.ipxe', script);
    const lines = commands(script);
    assert.equal(lines[0], 'set keymap no-latin1', 'the layout comes first, so the fallback menu uses it too');
    assert.ok(lines.some((line) => line.startsWith('kernel ${base-url}linux ')), 'the fixed image is booted');
  });

  test('without ipxe.keymap or a host layout, boot.ipxe selects none, so the layout compiled into the build stays', () => {
    const config = { ...makeConfig(), ipxe: {} };
    for (const mac of [OTHER_MAC, HOST_SYSRCD]) assert.doesNotMatch(renderBootScript(context({ mac }, config)), /keymap/);
    assert.match(renderBootScript(context({ mac: HOST_KEYMAP_ONLY }, config)), /^set keymap fr$/m, 'a host layout applies without a global one');
  });

  test('a client not yet identified re-chains before any layout is selected; the second request selects it', () => {
    assert.doesNotMatch(renderBootScript(context({})), /keymap/);
    assert.match(renderBootScript(context({ reported: true })), /^set keymap de$/m);
  });

  test('a host whose image id is no longer configured chains the menu', () => {
    const config = { ...makeConfig(), hosts: new Map([[OTHER_MAC, { image: 'gone' }]]) };
    assert.match(renderBootScript(context({ mac: OTHER_MAC }, config)), /^chain --autofree http:\/\/10\.77\.0\.2\/menu\.ipxe\?mac=52%3A54%3A00%3Aaa%3Abb%3Acc \|\| shell$/m);
  });

  test('a host image hidden by its firmware filter is still booted (hosts are an explicit choice)', () => {
    // sysrcd is EFI-only; a BIOS client fixed to it gets it anyway and falls back to the menu if it fails.
    const script = renderBootScript(context({ mac: HOST_SYSRCD, platform: 'pcbios' }));
    assert.match(script, /^kernel \$\{base-url\}sysresccd/m);
  });
});

describe('parseBootClient (query parameters are attacker-controlled)', () => {
  test('keeps well-formed values, lower-cases the mac and turns dashes into colons', () => {
    assert.deepEqual(parseBootClient({ mac: '52-54-00-AB-CD-EF', platform: 'efi', buildarch: 'x86_64' }), {
      reported: true,
      mac: '52:54:00:ab:cd:ef',
      platform: 'efi',
      buildarch: 'x86_64',
    });
  });

  test('drops malformed, oversized or non-string values', () => {
    assert.deepEqual(parseBootClient({ mac: '52:54:00:12:34', platform: 'efi\nshell', buildarch: 'x'.repeat(17) }), { reported: true });
    assert.deepEqual(parseBootClient({ mac: ['52:54:00:12:34:56'], platform: 7, buildarch: '${x}' }), { reported: true });
    assert.deepEqual(parseBootClient({ mac: '52:54:00:12:34:56\n', platform: '', buildarch: 'arm64' }), { reported: true, buildarch: 'arm64' });
    assert.deepEqual(parseBootClient({ platform: 'efi' }), { platform: 'efi' }, 'no mac parameter: not reported');
    assert.deepEqual(parseBootClient({}), {});
  });

  test('firmwareFamily and clientQuery', () => {
    assert.equal(firmwareFamily({ platform: 'pcbios' }), 'bios');
    assert.equal(firmwareFamily({ platform: 'efi' }), 'efi');
    assert.equal(firmwareFamily({ platform: 'arm64' }), undefined);
    assert.equal(firmwareFamily({}), undefined);
    assert.equal(clientQuery({}), '');
    assert.equal(clientQuery({ platform: 'efi' }), '?platform=efi');
  });
});
