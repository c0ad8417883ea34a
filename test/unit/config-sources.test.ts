import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootSpecsOf } from '../../src/config/model.ts';
import { ConfigError, parseConfigText } from '../../src/config/parse.ts';

const SHA256 = 'ab'.repeat(32);

function parse(images: string) {
  return parseConfigText(`images:\n${images}`, 'images.yaml', { dataDir: '/var/lib/bootstation' });
}

function problems(images: string): string[] {
  try {
    parse(images);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message.split('\n');
  }
  assert.fail(`expected a ConfigError for:\n${images}`);
}

describe('archive sources (ingest)', () => {
  test('a url source with a checksum becomes an ingested image in <data>/images/<id>', () => {
    const [image] = parse(`  - id: sysrcd
    source: {url: "https://example.org/systemrescuecd-x86-5.3.2.iso", sha256: ${SHA256.toUpperCase()}}
    extract: [sysrcd.*]
    boot: {kernel: isolinux/rescue64, initrd: [isolinux/initram.igz], args: "netboot=\${base-url}sysrcd.dat"}
`).images;
    assert.equal(image?.dir, '/var/lib/bootstation/images/sysrcd');
    assert.deepEqual(image?.ingest, {
      from: { kind: 'url', url: 'https://example.org/systemrescuecd-x86-5.3.2.iso', fetch: 'all' },
      insecure: false,
      checksum: { algorithm: 'sha256', value: SHA256 },
      // the boot files are always extracted, then the patterns the entry names
      extract: ['isolinux/rescue64', 'isolinux/initram.igz', 'sysrcd.*'],
    });
  });

  test('a local archive, a checksum list, fetch: files, and ${iso-url} keeping the archive', () => {
    const [local, listed] = parse(`  - id: memtest
    source: {path: /isos/memtest86+x64.iso, md5: ${'0f'.repeat(16)}}
    boot: {kernel: boot/memtest.bin}
  - id: ubuntu
    source: {url: "https://example.org/releases/ubuntu-24.04-desktop-amd64.iso", checksums: "https://example.org/releases/SHA256SUMS", fetch: files}
    boot: {kernel: casper/vmlinuz, initrd: [casper/initrd], args: "ip=dhcp url=\${iso-url}"}
`).images;
    assert.deepEqual(local?.ingest, {
      from: { kind: 'path', path: '/isos/memtest86+x64.iso' },
      insecure: false,
      checksum: { algorithm: 'md5', value: '0f'.repeat(16) },
      extract: ['boot/memtest.bin'],
    });
    assert.deepEqual(listed?.ingest?.checksum, { listUrl: 'https://example.org/releases/SHA256SUMS' });
    assert.equal(listed?.ingest?.from.kind === 'url' && listed.ingest.from.fetch, 'files');
    assert.equal(listed?.ingest?.keepArchiveAs, 'ubuntu-24.04-desktop-amd64.iso', '${iso-url} keeps the archive under its own name');
  });

  test('an archive name that is unsafe in a URL or script is replaced', () => {
    const [image] = parse(`  - id: odd
    source: {url: "https://example.org/a%20b%0A.iso", insecure: true}
    boot: {kernel: k, args: "url=\${iso-url}"}
`).images;
    assert.equal(image?.ingest?.keepArchiveAs, 'archive.iso');
    assert.equal(image?.ingest?.insecure, true);
  });

  test('a download without a checksum is refused unless insecure: true', () => {
    assert.deepEqual(problems(`  - id: a\n    source: {url: "https://example.org/a.iso"}\n    boot: {kernel: k}\n`), [
      'images.yaml:3:13: images[0].source: a download needs sha256, sha512, md5 or checksums (or insecure: true to accept it unchecked)',
    ]);
  });

  test('source takes exactly one of dir, url or path, and checksum keys only where they apply', () => {
    assert.deepEqual(problems(`  - id: a\n    source: {}\n    boot: {kernel: k}\n`), ['images.yaml:3:13: images[0].source: needs one of dir, url or path']);
    assert.deepEqual(problems(`  - id: a\n    source: {dir: /x, path: /y.iso}\n    boot: {kernel: k}\n`), [
      'images.yaml:3:13: images[0].source: takes one of dir, url or path, not dir and path',
    ]);
    assert.deepEqual(problems(`  - id: a\n    source: {dir: /x, sha256: ${SHA256}, fetch: files}\n    boot: {kernel: k}\n`), [
      `images.yaml:3:31: images[0].source.sha256: only applies to url and path sources`,
      `images.yaml:3:104: images[0].source.fetch: only applies to url and path sources`,
    ]);
    assert.deepEqual(problems(`  - id: a\n    source: {path: /a.iso, md5: "${'1'.repeat(32)}", sha256: ${SHA256}, fetch: all}\n    boot: {kernel: k}\n`), [
      'images.yaml:3:33: images[0].source.md5: give one checksum, not sha256 and md5',
      'images.yaml:3:150: images[0].source.fetch: only applies to url sources',
    ]);
    assert.deepEqual(problems(`  - id: a\n    source: {path: /a.iso, md5: ${'1'.repeat(32)}}\n    boot: {kernel: k}\n`), [
      'images.yaml:3:33: images[0].source.md5: must be a string (put it in quotes)',
    ]);
  });

  test('digests, URLs and extract patterns are checked', () => {
    assert.deepEqual(problems(`  - id: a\n    source: {url: "ftp://example.org/a.iso", sha256: abc}\n    extract: [../etc/passwd, "/abs", "ok/**/*.img"]\n    boot: {kernel: k}\n`), [
      'images.yaml:3:19: images[0].source.url: must be an http:// or https:// URL',
      'images.yaml:3:54: images[0].source.sha256: must be 64 hexadecimal digits (a sha256 digest)',
      'images.yaml:4:15: images[0].extract[0]: must not contain "..", "." or empty segments',
      'images.yaml:4:30: images[0].extract[1]: must be relative to the image folder',
    ]);
    assert.deepEqual(problems(`  - id: a\n    source: {dir: /x}\n    extract: ["*"]\n    boot: {kernel: k}\n`), [
      'images.yaml:4:14: images[0].extract: only applies to url and path sources',
    ]);
  });
});

describe('recipes', () => {
  test('a recipe fills in boot and extract; the entry overrides key by key', () => {
    const [plain, overridden] = parse(`  - id: old-rescue
    recipe: sysrcd-legacy
    version: "5.3.2"
    source: {path: /isos/systemrescuecd-x86-5.3.2.iso}
  - id: rescue-de
    recipe: sysrcd-legacy
    source: {path: /isos/systemrescuecd-x86-5.3.2.iso}
    boot: {args: "setkmap=de dodhcp netboot=\${base-url}sysrcd.dat"}
`).images;
    assert.equal(plain?.label, 'old-rescue 5.3.2');
    assert.equal(plain?.kernel, 'isolinux/rescue64');
    assert.deepEqual(plain?.initrds, ['isolinux/initram.igz']);
    assert.equal(plain?.args, 'dodhcp netboot=${base-url}sysrcd.dat');
    assert.deepEqual(plain?.ingest?.extract, ['isolinux/rescue64', 'isolinux/initram.igz', 'sysrcd.dat', 'sysrcd.md5']);
    assert.equal(plain?.ingest?.recipe, 'sysrcd-legacy');
    assert.equal(plain?.ingest?.version, '5.3.2');
    assert.equal(overridden?.args, 'setkmap=de dodhcp netboot=${base-url}sysrcd.dat');
    assert.equal(overridden?.kernel, 'isolinux/rescue64', 'keys the entry does not name come from the recipe');
  });

  test('an unknown recipe lists the known ones; without a recipe the kernel is required', () => {
    const [unknown] = problems(`  - id: a\n    recipe: nope\n    source: {path: /a.iso}\n`);
    assert.match(unknown ?? '', /^images\.yaml:3:13: images\[0\]\.recipe: must be one of sysrcd-legacy/);
    assert.deepEqual(problems(`  - id: a\n    source: {path: /a.iso}\n`), ['images.yaml:2:5: images[0].boot: required']);
    assert.deepEqual(problems(`  - id: a\n    source: {path: /a.iso}\n    boot: {args: quiet}\n`), ['images.yaml:4:11: images[0].boot.kernel: required']);
  });
});

describe('recipes with per-firmware files', () => {
  test("the entry's own args apply to every firmware's files", () => {
    const [memtest] = parse(`  - id: memtest
    recipe: memtest86plus
    source: {path: /isos/mt86plus_7.20.binaries.zip}
    boot: {args: console=ttyS0}
`).images;
    assert.ok(memtest?.moreBoots, 'the recipe gives per-firmware files');
    for (const spec of bootSpecsOf(memtest)) assert.equal(spec.args, 'console=ttyS0', `${spec.families?.join()} args`);
  });

  test('proxmox keeps its ISO and loads it as /proxmox.iso inside the initramfs', () => {
    const [proxmox] = parse(`  - id: pve\n    recipe: proxmox\n    source: {path: /isos/proxmox-ve_8.2-1.iso}\n`).images;
    assert.equal(proxmox?.archiveInitrdAt, '/proxmox.iso');
    assert.equal(proxmox?.ingest?.keepArchiveAs, 'proxmox-ve_8.2-1.iso');
  });
});
