import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, formatPath, parseConfigText } from '../../src/config/parse.ts';
import { IPXE_KEYMAPS } from '../../src/config/model.ts';
import { recipesWithReleases } from '../../src/config/recipes.ts';
import type { BootstationConfig } from '../../src/config/model.ts';
import { FIXTURES_DIR } from '../support/golden.ts';

const FILE = 'images.yaml';

/** The located problems of a file that must be rejected, as the user reads them. */
function errorLines(text: string): string[] {
  let error: unknown;
  try {
    parseConfigText(text, FILE);
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError for:\n${text}\ngot ${String(error)}`);
  assert.equal(error.code, 'BOOTSTATION_CONFIG_INVALID');
  assert.equal(error.file, FILE);
  const lines = error.message.split('\n');
  assert.equal(lines.length, error.problems.length, 'one message line per problem');
  return lines;
}

function assertRejected(text: string, expected: readonly string[]): void {
  assert.deepEqual(errorLines(text), expected, `problems reported for:\n${text}`);
}

/** A minimal valid image entry in flow style, for files that need one. */
const imageA = `  - id: a
    source: {dir: /srv/a}
    boot: {kernel: k}
`;

describe('the issue example', () => {
  const text = readFileSync(join(FIXTURES_DIR, 'config', 'issue-example.yaml'), 'utf8');

  test('validates as is and maps to the typed config', () => {
    const config = parseConfigText(text, 'issue-example.yaml');
    const expected: BootstationConfig = {
      server: { interface: 'eth0', address: '10.77.0.2', httpPort: 80, proxyDhcp: true },
      menu: { title: 'Network boot', defaultImage: 'debian', timeoutSeconds: 10 },
      ipxe: { keymap: 'de' },
      images: [
        {
          id: 'debian',
          label: 'Debian 12 installer',
          dir: '/srv/netboot/debian',
          kernel: 'linux',
          initrds: ['initrd.gz'],
          args: 'console=ttyS0 priority=low',
          firmware: ['bios', 'efi'],
        },
        {
          id: 'sysrcd',
          label: 'SystemRescueCd 5.3.2 (64-bit)',
          dir: '/srv/netboot/sysresccd',
          kernel: 'isolinux/rescue64',
          initrds: ['isolinux/initram.igz'],
          args: 'setkmap=de dodhcp netboot=${base-url}sysrcd.dat',
        },
      ],
      hosts: new Map([['52:54:00:12:34:56', { image: 'sysrcd' }]]),
    };
    assert.deepEqual(config, expected);
  });

  test('the shipped images.yaml (the example with interface and address commented out) validates', () => {
    const shipped = readFileSync(join(FIXTURES_DIR, '..', '..', 'images.yaml'), 'utf8');
    const config = parseConfigText(shipped, 'images.yaml');
    assert.equal(config.server.interface, undefined);
    assert.equal(config.server.address, undefined);
    assert.deepEqual(config.images.map((image) => image.id), ['debian-netboot', 'memtest', 'netboot-xyz']);
  });

  test('host MACs are lower-cased, and a label defaults to the id', () => {
    const config = parseConfigText(`images:\n${imageA}hosts:\n  "52:54:00:AB:CD:EF": a\n  52:54:00:12:34:56: a\n`, FILE);
    assert.deepEqual([...config.hosts], [['52:54:00:ab:cd:ef', { image: 'a' }], ['52:54:00:12:34:56', { image: 'a' }]]);
    assert.equal(config.images[0]?.label, 'a');
    assert.deepEqual(config.images[0]?.initrds, []);
    assert.equal(config.images[0]?.args, '');
    assert.equal(config.images[0]?.firmware, undefined);
  });
});

describe('defaults', () => {
  const defaults: BootstationConfig = {
    server: { interface: undefined, address: undefined, httpPort: 80, proxyDhcp: true },
    menu: { title: 'Network boot', defaultImage: undefined, timeoutSeconds: 10 },
    ipxe: {},
    images: [],
    hosts: new Map(),
  };

  // An empty file is a valid, empty appliance: the menu then says no images are configured.
  // That matches "entries whose files are not there yet are listed as such instead of failing".
  for (const [name, text] of [
    ['an empty file', ''],
    ['a file with only a comment', '# nothing yet\n'],
    ['empty sections written as flow mappings', 'server: {}\nmenu: {}\nipxe: {}\nimages: []\nhosts: {}\n'],
  ] as const) {
    test(`${name} gives every default`, () => {
      assert.deepEqual(parseConfigText(text, FILE), defaults);
    });
  }

  test('a section that is given keeps the defaults of the keys it omits', () => {
    const config = parseConfigText('server:\n  proxy_dhcp: false\nmenu:\n  timeout: 0\n', FILE);
    assert.deepEqual(config.server, { interface: undefined, address: undefined, httpPort: 80, proxyDhcp: false });
    assert.deepEqual(config.menu, { title: 'Network boot', defaultImage: undefined, timeoutSeconds: 0 });
  });
});

describe('located errors: file:line:column: path: message', () => {
  test('a missing required key is reported at the map that should hold it (the issue\'s own example)', () => {
    const text = `images:
  - id: a
    source: {dir: /srv/a}
    boot: {kernel: k}
  - id: b
    source: {dir: /srv/b}
    boot: {kernel: k}
  - id: c
    label: C
    source:
      dir: /srv/c
    boot:
      # kernel: vmlinuz
      initrd: [initrd.gz]
`;
    assertRejected(text, ['images.yaml:14:7: images[2].boot.kernel: required']);
  });

  test('missing keys in flow mappings and missing whole sections', () => {
    assertRejected('images:\n  - {id: a, source: {dir: /x}, boot: {}}\n', ['images.yaml:2:38: images[0].boot.kernel: required']);
    assertRejected('images:\n  - id: a\n    boot: {kernel: k}\n', [`images.yaml:2:5: images[0].source: required (or recipe: and version: with a recipe that finds releases: ${recipesWithReleases().join(' ')}; or chain: URL for a menu item that runs another iPXE script)`]);
    assertRejected('images:\n  - label: no id\n    source: {dir: /x}\n    boot: {kernel: k}\n', ['images.yaml:2:5: images[0].id: required']);
  });

  test('an unknown key is reported at the key, at every level', () => {
    assertRejected('server:\n  http_prot: 8080\n', ['images.yaml:2:3: server.http_prot: unknown key']);
    assertRejected('servers: {}\nfoo: 1\n', ['images.yaml:1:1: servers: unknown key', 'images.yaml:2:1: foo: unknown key']);
    assertRejected(`images:\n  - id: a\n    source: {dir: /srv/a, uri: "http://x/"}\n    boot: {kernel: k, initrds: [i]}\n`, [
      'images.yaml:3:27: images[0].source.uri: unknown key',
      'images.yaml:4:23: images[0].boot.initrds: unknown key',
    ]);
    // camelCase is not snake_case
    assertRejected('server:\n  httpPort: 80\n', ['images.yaml:2:3: server.httpPort: unknown key']);
  });

  test('a wrong type is reported at the value', () => {
    assertRejected('server:\n  http_port: "80"\n  proxy_dhcp: yes\nimages: foo\n', [
      'images.yaml:2:14: server.http_port: must be a number',
      // YAML 1.2: yes is a string, not a boolean
      'images.yaml:3:15: server.proxy_dhcp: must be a boolean',
      'images.yaml:4:9: images: must be a list',
    ]);
    assertRejected(`images:\n  - id: 12\n    source: {dir: /x}\n    boot: {kernel: k, args: 5}\n`, [
      'images.yaml:2:9: images[0].id: must be a string (put it in quotes)',
      'images.yaml:4:29: images[0].boot.args: must be a string (put it in quotes)',
    ]);
    assertRejected('images:\n  -\n', ['images.yaml:2:4: images[0]: must be a mapping']);
  });

  test('a section left empty (null) is a wrong type, named the way users write it', () => {
    assertRejected('server:\nmenu:\nimages:\nhosts:\n', [
      'images.yaml:1:8: server: must be a mapping',
      'images.yaml:2:6: menu: must be a mapping',
      'images.yaml:3:8: images: must be a list',
      'images.yaml:4:7: hosts: must be a mapping',
    ]);
  });

  test('fractional numbers keep the schema\'s own message', () => {
    assertRejected('server:\n  http_port: 80.5\nmenu:\n  timeout: 1.5\n', [
      'images.yaml:2:14: server.http_port: must be a whole number',
      'images.yaml:4:12: menu.timeout: must be a whole number of seconds',
    ]);
  });

  test('numbers out of range', () => {
    for (const port of ['0', '-1', '65536', '70000']) {
      assertRejected(`server:\n  http_port: ${port}\n`, ['images.yaml:2:14: server.http_port: must be 1-65535']);
    }
    for (const port of ['1', '65535']) assert.equal(parseConfigText(`server:\n  http_port: ${port}\n`, FILE).server.httpPort, Number(port));
    assertRejected('menu:\n  timeout: -1\n', ['images.yaml:2:12: menu.timeout: must be 0 or more']);
    assertRejected('menu:\n  timeout: 3601\n', ['images.yaml:2:12: menu.timeout: at most 3600 seconds']);
  });

  test('an image id that breaks the id rule', () => {
    const rule = 'must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and hyphens)';
    for (const id of ['Debian', '-debian', 'deb_ian', 'deb.ian', '"deb ian"', '""']) {
      assertRejected(`images:\n  - id: ${id}\n    source: {dir: /x}\n    boot: {kernel: k}\n`, [`images.yaml:2:9: images[0].id: ${rule}`]);
    }
    assertRejected(`images:\n  - id: ${'a'.repeat(64)}\n    source: {dir: /x}\n    boot: {kernel: k}\n`, ['images.yaml:2:9: images[0].id: at most 63 characters']);
    assert.equal(parseConfigText(`images:\n  - id: ${'a'.repeat(63)}\n    source: {dir: /x}\n    boot: {kernel: k}\n`, FILE).images.length, 1);
  });

  test('a duplicate image id is reported at the second one', () => {
    assertRejected(`images:\n${imageA}${imageA}`, ['images.yaml:5:9: images[1].id: duplicate image id "a"']);
  });

  test('menu.default naming no image', () => {
    assertRejected('menu:\n  default: nope\n', ['images.yaml:2:12: menu.default: no image has the id "nope"']);
  });

  test('hosts: a bad MAC is reported at the key', () => {
    assertRejected(`images:\n${imageA}hosts:\n  "52:54:00:12:34": a\n  "52-54-00-12-34-58": a\n  "52:54:00:12:34:5g": a\n`, [
      'images.yaml:6:3: hosts["52:54:00:12:34"]: must be a MAC address such as 52:54:00:12:34:56',
      'images.yaml:8:3: hosts["52:54:00:12:34:5g"]: must be a MAC address such as 52:54:00:12:34:56',
    ]);
  });

  test('hosts: MACs written with hyphens (as Windows prints them) are accepted and stored with colons', () => {
    const config = parseConfigText(`images:\n${imageA}hosts:\n  "52-54-00-AB-34-58": a\n`, 'images.yaml');
    assert.deepEqual([...config.hosts], [['52:54:00:ab:34:58', { image: 'a' }]]);
  });

  test('hosts: an unknown image is reported at the image id', () => {
    assertRejected(`images:\n${imageA}hosts:\n  "52:54:00:12:34:56": a\n  "52:54:00:12:34:57": b\n`, [
      'images.yaml:7:24: hosts["52:54:00:12:34:57"]: no image has the id "b"',
    ]);
  });

  test('hosts: the long form gives an image and/or a keyboard layout; both forms of a host give the same value', () => {
    const config = parseConfigText(
      `images:\n${imageA}hosts:\n  "52:54:00:00:00:01": a\n  "52:54:00:00:00:02": {image: a}\n  "52:54:00:00:00:03":\n    image: a\n    keymap: de\n  "52:54:00:00:00:04": {keymap: no-latin1}\n`,
      FILE,
    );
    assert.deepEqual([...config.hosts], [
      ['52:54:00:00:00:01', { image: 'a' }],
      ['52:54:00:00:00:02', { image: 'a' }],
      ['52:54:00:00:00:03', { image: 'a', keymap: 'de' }],
      ['52:54:00:00:00:04', { keymap: 'no-latin1' }],
    ]);
  });

  test('hosts: every problem of the long form is located at its key, with the forms named when neither fits', () => {
    const valid = IPXE_KEYMAPS.join(' ');
    assertRejected(
      `images:\n${imageA}hosts:\n  "52:54:00:00:00:01": {keymap: xx}\n  "52:54:00:00:00:02":\n    image: b\n    colour: red\n  "52:54:00:00:00:03": {}\n  "52:54:00:00:00:04": 7\n  "52:54:00:00:00:05": [a]\n  "52:54:00:00:00:06": Debian\n`,
      [
        `images.yaml:6:33: hosts["52:54:00:00:00:01"].keymap: must be one of ${valid}`,
        'images.yaml:8:12: hosts["52:54:00:00:00:02"].image: no image has the id "b"',
        'images.yaml:9:5: hosts["52:54:00:00:00:02"].colour: unknown key',
        'images.yaml:10:24: hosts["52:54:00:00:00:03"]: give image, keymap or both',
        'images.yaml:11:24: hosts["52:54:00:00:00:04"]: must be an image id, or a mapping with image and/or keymap',
        'images.yaml:12:24: hosts["52:54:00:00:00:05"]: must be an image id, or a mapping with image and/or keymap',
        'images.yaml:13:24: hosts["52:54:00:00:00:06"]: must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and hyphens)',
        'images.yaml:13:24: hosts["52:54:00:00:00:06"]: no image has the id "Debian"',
      ],
    );
  });

  test('ipxe.keymap is optional: without it boot.ipxe selects no layout and the build\'s own stays', () => {
    assert.deepEqual(parseConfigText('ipxe: {}\n', FILE).ipxe, {});
    assert.deepEqual(parseConfigText('ipxe: {keymap: fr}\n', FILE).ipxe, { keymap: 'fr' });
  });

  test('a keymap iPXE does not have lists the valid ones', () => {
    const valid = IPXE_KEYMAPS.join(' ');
    assert.ok(valid.includes('de') && valid.includes('us') && valid.includes('no-latin1'));
    assertRejected('ipxe:\n  keymap: xx\n', [`images.yaml:2:11: ipxe.keymap: must be one of ${valid}`]);
    assertRejected('ipxe:\n  keymap: DE\n', [`images.yaml:2:11: ipxe.keymap: must be one of ${valid}`]);
  });

  test('absolute and climbing boot paths, and a relative source dir', () => {
    const text = `images:
  - id: a
    source: {dir: srv/a}
    boot:
      kernel: /boot/vmlinuz
      initrd: [../initrd, a//b, "a b", ./x, 'a\\b']
`;
    assertRejected(text, [
      'images.yaml:3:19: images[0].source.dir: must be an absolute path',
      'images.yaml:5:15: images[0].boot.kernel: must be relative to the image folder',
      'images.yaml:6:16: images[0].boot.initrd[0]: must not contain "..", "." or empty segments',
      'images.yaml:6:27: images[0].boot.initrd[1]: must not contain "..", "." or empty segments',
      'images.yaml:6:33: images[0].boot.initrd[2]: must not contain spaces, control characters or backslashes',
      'images.yaml:6:40: images[0].boot.initrd[3]: must not contain "..", "." or empty segments',
      'images.yaml:6:45: images[0].boot.initrd[4]: must not contain spaces, control characters or backslashes',
    ]);
    assertRejected('images:\n  - id: a\n    source: {dir: /x}\n    boot: {kernel: casper/..}\n', [
      'images.yaml:4:20: images[0].boot.kernel: must not contain "..", "." or empty segments',
    ]);
  });

  test('a bad firmware value', () => {
    const text = `images:
  - id: a
    source: {dir: /x}
    boot: {kernel: k, firmware: [uefi]}
  - id: b
    source: {dir: /x}
    boot: {kernel: k, firmware: []}
  - id: c
    source: {dir: /x}
    boot: {kernel: k, firmware: efi}
`;
    assertRejected(text, [
      'images.yaml:4:34: images[0].boot.firmware[0]: must be bios or efi',
      'images.yaml:7:33: images[1].boot.firmware: must list bios, efi or both',
      'images.yaml:10:33: images[2].boot.firmware: must be a list',
    ]);
  });

  test('an address that is not IPv4', () => {
    assertRejected('server:\n  address: 10.0.0.300\n', ['images.yaml:2:12: server.address: must be an IPv4 address such as 10.77.0.2']);
    assertRejected('server:\n  address: "fe80::1"\n', ['images.yaml:2:12: server.address: must be an IPv4 address such as 10.77.0.2']);
  });

  test('YAML syntax errors carry their position and no path', () => {
    assertRejected('menu:\n  title: [unclosed\nserver:\n', [
      'images.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    assertRejected('menu:\n\ttitle: x\n', ['images.yaml:2:1: Tabs are not allowed as indentation']);
  });

  test('a duplicate key is reported at the second occurrence', () => {
    assertRejected('menu:\n  title: a\n  title: b\n', ['images.yaml:3:3: Map keys must be unique']);
    assertRejected(`images:\n${imageA}images: []\n`, ['images.yaml:5:1: Map keys must be unique']);
  });

  test('a file that is a list or a scalar instead of a mapping', () => {
    assertRejected('- id: a\n- id: b\n', ['images.yaml:1:1: must be a mapping']);
    assertRejected('hello\n', ['images.yaml:1:1: must be a mapping']);
  });

  test('several errors at once are all reported, sorted by line', () => {
    const text = `menu:
  default: zz
  timeout: -5
server:
  http_port: 0
  colour: blue
images:
  - id: a
    source: {dir: /x}
    boot: {kernel: ../k}
    extra: 1
  - id: a
    source: {dir: /x}
    boot: {kernel: k}
hosts:
  "52:54:00:12:34:56": b
`;
    assert.deepEqual(errorLines(text), [
      'images.yaml:2:12: menu.default: no image has the id "zz"',
      'images.yaml:3:12: menu.timeout: must be 0 or more',
      'images.yaml:5:14: server.http_port: must be 1-65535',
      'images.yaml:6:3: server.colour: unknown key',
      'images.yaml:10:20: images[0].boot.kernel: must not contain "..", "." or empty segments',
      'images.yaml:11:5: images[0].extra: unknown key',
      'images.yaml:12:9: images[1].id: duplicate image id "a"',
      'images.yaml:16:24: hosts["52:54:00:12:34:56"]: no image has the id "b"',
    ]);
  });

  test('cross-reference errors are reported alongside a wrong type or a bad enum value', () => {
    const text = `menu:
  default: zz
server:
  http_port: "80"
ipxe: {keymap: qq}
images:
${imageA}${imageA}hosts:
  "52:54:00:12:34:5": b
  "52:54:00:12:34:56": c
`;
    assert.deepEqual(errorLines(text), [
      'images.yaml:2:12: menu.default: no image has the id "zz"',
      'images.yaml:4:14: server.http_port: must be a number',
      `images.yaml:5:16: ipxe.keymap: must be one of ${IPXE_KEYMAPS.join(' ')}`,
      'images.yaml:10:9: images[1].id: duplicate image id "a"',
      'images.yaml:14:3: hosts["52:54:00:12:34:5"]: must be a MAC address such as 52:54:00:12:34:56',
      'images.yaml:15:24: hosts["52:54:00:12:34:56"]: no image has the id "c"',
    ]);
  });

  test('problems carry line, column, path and message separately', () => {
    try {
      parseConfigText('server:\n  http_prot: 8080\n', 'conf/images.yaml');
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [{ line: 2, column: 3, path: 'server.http_prot', message: 'unknown key' }]);
      assert.equal(error.message, 'conf/images.yaml:2:3: server.http_prot: unknown key');
    }
  });
});

describe('formatPath', () => {
  test('writes paths the way users read them', () => {
    assert.equal(formatPath(['images', 2, 'boot', 'kernel']), 'images[2].boot.kernel');
    assert.equal(formatPath(['hosts', '52:54:00:12:34:56']), 'hosts["52:54:00:12:34:56"]');
    assert.equal(formatPath([]), '');
  });
});
