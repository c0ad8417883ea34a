import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootSpecsOf, bootFilesOf } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { configProblems } from '../support/config-problems.ts';

const parse = (images: string) => parseConfigText(`images:\n${images}`, 'images.yaml');

describe('boot: as a list, one spec per architecture', () => {
  const listed = `  - id: debian
    source: {dir: /srv/debian}
    boot:
      - kernel: i386/vmlinuz
        initrd: [i386/initrd.cpio]
        args: console=ttyS0
        arch: i386
      - kernel: amd64/vmlinuz
        initrd: [amd64/initrd.cpio]
        args: console=ttyS0
      - kernel: arm64/vmlinuz
        firmware: [efi]
`;

  test('keeps the specs in order, each with its own files, arch and firmware', () => {
    const [image] = parse(listed).images;
    assert.ok(image);
    assert.deepEqual(bootSpecsOf(image).map((spec) => [spec.kernel, spec.initrds, spec.args, spec.arch, spec.families]), [
      ['i386/vmlinuz', ['i386/initrd.cpio'], 'console=ttyS0', 'i386', undefined],
      ['amd64/vmlinuz', ['amd64/initrd.cpio'], 'console=ttyS0', undefined, undefined],
      ['arm64/vmlinuz', [], '', undefined, ['efi']],
    ]);
    assert.equal(image.firmware, undefined, 'an item limits itself, not the image');
    assert.deepEqual(bootFilesOf(image), ['i386/vmlinuz', 'i386/initrd.cpio', 'amd64/vmlinuz', 'amd64/initrd.cpio', 'arm64/vmlinuz']);
  });

  test('an ingested image extracts the files of every spec', () => {
    const [image] = parse(listed.replace('{dir: /srv/debian}', '{path: /isos/netboot.tar.gz}')).images;
    assert.deepEqual(image?.ingest?.extract, ['i386/vmlinuz', 'i386/initrd.cpio', 'amd64/vmlinuz', 'amd64/initrd.cpio', 'arm64/vmlinuz']);
  });

  test('the mapping form takes arch: too, and stays one spec', () => {
    const [image] = parse(`  - id: a\n    source: {dir: /srv/a}\n    boot: {kernel: k, arch: x86_64, firmware: [efi]}\n`).images;
    assert.ok(image);
    assert.deepEqual(bootSpecsOf(image).map((spec) => [spec.kernel, spec.arch]), [['k', 'x86_64']]);
    assert.deepEqual(image.firmware, ['efi']);
  });

  test('problems inside the list are located at their item', () => {
    assert.deepEqual(
      configProblems(`images:
  - id: a
    source: {dir: /srv/a}
    boot:
      - kernel: k
        arch: amd64
      - initrd: [i]
      - {kernel: k, cpu: x}
`),
      [
        'images.yaml:6:15: images[0].boot[0].arch: must be one of i386 x86_64 arm64',
        'images.yaml:7:9: images[0].boot[1].kernel: required',
        'images.yaml:8:21: images[0].boot[2].cpu: unknown key',
      ],
    );
  });

  test('an empty list, a list too long and a scalar are refused with the forms there are', () => {
    assert.deepEqual(configProblems(`images:\n  - id: a\n    source: {dir: /srv/a}\n    boot: []\n`), ['images.yaml:4:11: images[0].boot: must list at least one boot spec']);
    const nine = Array.from({ length: 9 }, (_, i) => `      - kernel: k${i}\n`).join('');
    assert.deepEqual(configProblems(`images:\n  - id: a\n    source: {dir: /srv/a}\n    boot:\n${nine}`), ['images.yaml:5:7: images[0].boot: at most 8 boot specs']);
    assert.deepEqual(configProblems(`images:\n  - id: a\n    source: {dir: /srv/a}\n    boot: vmlinuz\n`), [
      'images.yaml:4:11: images[0].boot: must be a mapping (kernel, initrd, args, firmware, arch) or a list of them',
    ]);
  });
});
