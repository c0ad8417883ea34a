import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../src/config/parse.ts';
import { renderInitScript, renderUdhcpcScript } from '../../tools/lab/initrd-files.ts';
import { moduleLoadOrder, moduleName, parseModulesDep } from '../../tools/lab/kernel-modules.ts';
import { renderGrubStandInConfig } from '../../tools/lab/grub-stand-in.ts';
import { LAB_IMAGE_ARGS, LAB_IMAGE_ID, LAB_X86_64_ONLY_IMAGE_ID, labImageArgs, renderLabConfig } from '../../tools/lab/lab-image.ts';
import { cleanSerialText, firmwareGaveUp, furthestBootStep, readSerialReport } from '../../tools/lab/serial-report.ts';
import { cacheFolderName, parseAptDepends, parseAptVersion } from '../../tools/lab/debian-package.ts';

// Serial consoles captured from real lab runs (SeaBIOS + iPXE ROM; OVMF + EDK2 PXE + iPXE; and the
// iPXE ROM against the seed's ProxyDHCP that leaves siaddr empty).
const fixture = (name: string) => readFileSync(new URL(`../fixtures/lab/${name}`, import.meta.url), 'latin1');
const biosOk = fixture('serial-bios-ok.txt');
const efiOk = fixture('serial-efi-ok.txt');
const noSiaddr = fixture('serial-bios-no-siaddr.txt');
// AAVMF with PXE off (UEFI HTTP Boot) loading the GRUB stand-in for snp-arm64.efi, which boots the arm64 kernel.
const arm64Http = fixture('serial-arm64-http-stand-in.txt');

describe('serial reports', () => {
  it('reads the marker, the command line and the checksum from a real BIOS boot', () => {
    const report = readSerialReport(biosOk);
    assert.equal(report.marker, true);
    assert.equal(report.done, true);
    assert.equal(report.cmdline, 'initrd=initrd.cpio console=ttyS0 panic=1 netboot=http://10.77.0.2:8080/images/lab-marker/payload.bin bootstation.lab=token_1-a.b,c');
    assert.deepEqual(report.netboot, { ok: true, sha256: 'aa7fdff701caa33d8fad0db91558c8f19e4d231b5bad89303ffbe25477ae6545', url: 'http://10.77.0.2:8080/images/lab-marker/payload.bin' });
  });

  it('reads a real UEFI boot, whose iPXE puts the image name first on the command line', () => {
    const report = readSerialReport(efiOk);
    assert.equal(report.marker, true);
    assert.match(report.cmdline ?? '', /^vmlinuz initrd=initrd\.cpio console=ttyS0 /);
    assert.equal(report.netboot?.ok, true);
  });

  it('reads which kernel ran from uname -m, and the command line GRUB gives the arm64 kernel', () => {
    const report = readSerialReport(arm64Http);
    assert.equal(report.machine, 'aarch64');
    assert.match(report.cmdline ?? '', /^BOOT_IMAGE=\(http,10\.77\.0\.2:8080\)\/images\/lab-marker\/arm64\/vmlinuz console=ttyAMA0 /);
    assert.equal(report.netboot?.ok, true);
    assert.equal(readSerialReport(biosOk).machine, undefined, 'a console from before the machine line reports none');
  });

  it('reports a failed fetch with its reason, and lines split by escape sequences and CRs', () => {
    const report = readSerialReport('\x1b[0mBOOTSTATION-LAB marker: x\r\nnoise BOOTSTATION-LAB netboot: failed to fetch http://h/p\r\n');
    assert.equal(report.marker, true);
    assert.deepEqual(report.netboot, { ok: false, reason: 'to fetch http://h/p' });
    assert.equal(report.done, false);
  });

  it('finds nothing in output that never reached the initrd', () => {
    assert.deepEqual(readSerialReport(noSiaddr), { marker: false, done: false });
    assert.deepEqual(readSerialReport(''), { marker: false, done: false });
  });

  it('names the furthest step a boot reached', () => {
    assert.equal(furthestBootStep(biosOk), 'initrd');
    assert.equal(furthestBootStep(noSiaddr), 'DHCP');
    assert.equal(furthestBootStep(efiOk.slice(0, efiOk.indexOf('NBP file downloaded'))), 'TFTP');
    assert.equal(furthestBootStep(efiOk.slice(0, efiOk.indexOf('Booting Lab marker'))), 'HTTP');
    assert.equal(furthestBootStep(efiOk.slice(0, efiOk.indexOf('BOOTSTATION-LAB marker'))), 'kernel');
    assert.equal(furthestBootStep(''), undefined);
    // UEFI HTTP Boot: DHCP, then the first stage over HTTP (no TFTP step), then GRUB's HTTP reads.
    assert.equal(furthestBootStep(arm64Http.slice(0, arm64Http.indexOf('URI: '))), 'DHCP');
    assert.equal(furthestBootStep(arm64Http.slice(0, arm64Http.indexOf('EFI stub'))), 'HTTP');
    assert.equal(furthestBootStep(arm64Http), 'initrd');
  });

  it('sees when the firmware has given up', () => {
    assert.equal(firmwareGaveUp(noSiaddr), 'No bootable device.');
    assert.equal(firmwareGaveUp(biosOk), undefined);
    assert.equal(firmwareGaveUp(efiOk), undefined);
    // iPXE's words when ipxe.efi fetched an i386 kernel on x64 UEFI (measured in the lab), before the menu waits for a key.
    assert.equal(
      firmwareGaveUp('http://10.77.0.2:8080/images/lab-marker/i386/initrd.cpio... ok\r\nCould not boot: Error 0x7f048283 (http://ipxe.org/7f048283)\r\nBoot failed (the error is shown above).\r\n'),
      'Could not boot: Error 0x7f048283 (http://ipxe.org/7f048283)',
    );
  });

  it('strips escape sequences and shows progress lines as a terminal would', () => {
    assert.equal(cleanSerialText('\x1bc\x1b[?7l\x1b[2J\x1b[0;1miPXE\x1b[0m ok\r\n\x1b[=3h'), 'iPXE ok\n');
    assert.equal(cleanSerialText('  Downloading...1%\r  Downloading...100%\r\nnext\r\n'), '  Downloading...100%\nnext\n');
  });
});

describe('test initrd scripts', () => {
  it('/init reports with the prefix the serial reader looks for, and powers off', () => {
    const init = renderInitScript();
    for (const key of ['marker', 'machine: $(uname -m)', 'cmdline', 'netboot: ok sha256=', 'done']) assert.ok(init.includes(`BOOTSTATION-LAB ${key}`), key);
    assert.match(init, /poweroff -f\n$/);
  });
});

describe('kernel modules', () => {
  const dep = parseModulesDep(
    [
      'kernel/drivers/net/ethernet/intel/e1000/e1000.ko:',
      'kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko',
      'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
      'kernel/net/core/failover.ko:',
      'kernel/drivers/virtio/virtio.ko:',
      'kernel/drivers/virtio/virtio_ring.ko:',
      '',
    ].join('\n'),
  );

  it('loads dependencies first and each module once', () => {
    const order = moduleLoadOrder(dep, ['virtio-net', 'e1000']).map(moduleName);
    assert.deepEqual(order, ['virtio', 'virtio_ring', 'failover', 'net_failover', 'virtio_net', 'e1000']);
  });

  it('names a module that the kernel does not have', () => {
    assert.throws(() => moduleLoadOrder(dep, ['r8169']), /kernel module r8169 is not in modules\.dep/);
  });
});

describe('apt output', () => {
  it('reads the kernel package and its version', () => {
    assert.equal(parseAptDepends('linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n'), 'linux-image-6.1.0-56-amd64');
    assert.equal(parseAptVersion('Package: linux-image-6.1.0-56-amd64\nVersion: 6.1.192-2\nSize: 1\n'), '6.1.192-2');
    assert.equal(parseAptDepends(''), undefined);
    assert.equal(parseAptDepends('linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-57-arm64:arm64\n'), 'linux-image-6.1.0-57-arm64:arm64');
  });

  it('names cache folders without the colon of a foreign architecture', () => {
    assert.equal(cacheFolderName('linux-image-6.1.0-57-amd64', '6.1.192-3'), 'linux-image-6.1.0-57-amd64_6.1.192-3');
    assert.equal(cacheFolderName('busybox-static:arm64', '1:1.35.0-4'), 'busybox-static_1:1.35.0-4_arm64');
  });
});

describe('lab images.yaml', () => {
  it('is a valid bootstation config whose default is the lab image', () => {
    const config = parseConfigText(renderLabConfig({ dir: '/srv/lab image' }, 2), 'lab.yaml');
    assert.equal(config.menu.defaultImage, LAB_IMAGE_ID);
    assert.equal(config.menu.timeoutSeconds, 2);
    assert.equal(config.images[0]?.args, LAB_IMAGE_ARGS);
    assert.equal(config.images[0]?.dir, '/srv/lab image');
    assert.equal(config.images[0]?.kernel, 'amd64/vmlinuz');
    assert.equal(config.images.length, 1);
  });

  it('gives each architecture its serial console', () => {
    assert.match(labImageArgs('amd64'), /^console=ttyS0 /);
    assert.match(labImageArgs('i386'), /^console=ttyS0 /);
    assert.match(labImageArgs('arm64'), /^console=ttyAMA0 /);
  });

  it('lists one boot spec per architecture, i386 first, and can add an x86_64-only image', () => {
    const text = renderLabConfig({ dir: '/srv/lab', archs: ['arm64', 'amd64', 'i386'] }, 1, { x86_64Only: true });
    const yaml = parseYaml(text) as { images: Array<{ id: string; boot: unknown }> };
    const [marker, x86Only] = yaml.images;
    assert.deepEqual(
      marker?.boot,
      (['i386', 'amd64', 'arm64'] as const).map((arch) => ({ kernel: `${arch}/vmlinuz`, initrd: [`${arch}/initrd.cpio`], args: labImageArgs(arch) })),
    );
    assert.equal(x86Only?.id, LAB_X86_64_ONLY_IMAGE_ID);
    assert.deepEqual(x86Only?.boot, { kernel: 'amd64/vmlinuz', initrd: ['amd64/initrd.cpio'], args: LAB_IMAGE_ARGS });
  });
});

describe('GRUB stand-ins for snp-arm64.efi and ipxe32.efi', () => {
  const boot = { firstStage: 'snp-arm64.efi', server: '10.77.0.2', httpPort: 8080, kernelPath: '/images/lab-marker/arm64/vmlinuz', initrdPath: '/images/lab-marker/arm64/initrd.cpio', args: 'console=ttyAMA0 panic=1' };

  it('says on the console which first stage it stands in for', () => {
    assert.match(renderGrubStandInConfig(boot), /^echo bootstation-lab-grub-stand-in: GRUB stands in for snp-arm64\.efi, /);
  });

  it('loads the kernel and initrd from bootstation over HTTP, with the port, boots, and powers off when that fails', () => {
    const lines = renderGrubStandInConfig(boot).split('\n').filter((line) => !line.startsWith('echo '));
    assert.deepEqual(lines, [
      'linux (http,10.77.0.2:8080)/images/lab-marker/arm64/vmlinuz console=ttyAMA0 panic=1',
      'initrd (http,10.77.0.2:8080)/images/lab-marker/arm64/initrd.cpio',
      'boot',
      'halt',
      '',
    ]);
  });

  it('refuses values GRUB would read as more than words', () => {
    for (const args of ['a"b', "a'b", 'a\nboot', 'a;b', 'a${x}']) assert.throws(() => renderGrubStandInConfig({ ...boot, args }), /character GRUB would interpret/, args);
  });
});
