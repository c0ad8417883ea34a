import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipxeUrl, ipxeWords, urlPath } from '../../src/boot/ipxe-text.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { renderBootScript, renderMenu } from '../../src/boot/scripts.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';

// iPXE's isspace (include/ctype.h): the only bytes its tokenizer splits on.
const IPXE_SPACE = /[ \f\n\r\t\v]/;

/** The tokens iPXE's split_command (core/exec.c) makes of one line. */
function ipxeTokens(line: string): string[] {
  return line.split(/[ \f\n\r\t\v]+/).filter((token) => token !== '');
}

/**
 * The commands iPXE runs from a script, as argv arrays before ${...} expansion: lines are joined
 * on a trailing backslash and lose one trailing CR (image/script.c), ":label" lines are labels,
 * "||", "&&" and ";" separate commands and a token starting with "#" ends the line (core/exec.c).
 */
function ipxeCommands(script: string): string[][] {
  const lines: string[] = [];
  let pending = '';
  for (let fragment of script.split('\n')) {
    if (fragment.endsWith('\r')) fragment = fragment.slice(0, -1);
    if (fragment.endsWith('\\')) {
      pending += fragment.slice(0, -1);
      continue;
    }
    lines.push(pending + fragment);
    pending = '';
  }
  if (pending) lines.push(pending);
  const commands: string[][] = [];
  for (const line of lines) {
    const trimmed = line.replace(/^[ \f\n\r\t\v]+/, '');
    if (trimmed.startsWith(':')) {
      commands.push([trimmed.split(IPXE_SPACE)[0]!]);
      continue;
    }
    let current: string[] = [];
    for (const token of ipxeTokens(trimmed)) {
      if (token.startsWith('#')) break;
      if (token === '||' || token === '&&' || token === ';') {
        commands.push(current);
        current = [token];
        commands.push(current);
        current = [];
        continue;
      }
      current.push(token);
    }
    if (current.length > 0) commands.push(current);
  }
  return commands.filter((command) => command.length > 0);
}

/** What an ipxeWords result must be to stay trailing words of one command. */
function assertSafeWords(input: string, output: string): void {
  const shown = JSON.stringify(input);
  assert.ok(!/[\u0000-\u001f\u007f]/.test(output), `control character left in the output for ${shown}: ${JSON.stringify(output)}`);
  assert.ok(!output.endsWith('\\'), `output for ${shown} ends in a backslash, which joins the next script line`);
  for (const token of ipxeTokens(output)) {
    assert.ok(!['||', '&&', ';'].includes(token), `separator token ${token} in the output for ${shown}`);
    assert.ok(!token.startsWith('#'), `comment token ${token} in the output for ${shown}`);
    assert.ok(!token.startsWith('-'), `option token ${token} in the output for ${shown}`);
  }
  assert.deepEqual(ipxeCommands(`echo ${output}\necho next\n`).map((c) => c[0]), ['echo', 'echo'], `the output for ${shown} changes the commands of a script`);
}

describe('ipxeWords', () => {
  const cases: [string, string][] = [
    ['Debian 12 installer', 'Debian 12 installer'],
    ['two\nlines', 'two lines'],
    ['line\r\nbreak', 'line break'],
    ['tab\tbed', 'tab bed'],
    ['bell\u0007 and \u001b[31mescape\u007f', 'bell and [31mescape'],
    ['a || shell', 'a ${}|| shell'],
    ['a && shell', 'a ${}&& shell'],
    ['a ; shell', 'a ${}; shell'],
    ['a;shell', 'a;shell'],
    ['a||b', 'a||b'],
    ['#comment', '${}#comment'],
    ['label #comment', 'label ${}#comment'],
    ['a#b', 'a#b'],
    ['--gap', '${}--gap'],
    ['-n no newline', '${}-n no newline'],
    ['a -b', 'a ${}-b'],
    ['  spaced   out  ', 'spaced out'],
    ['Ünïcödé — ✓ 日本語', 'Ünïcödé — ✓ 日本語'],
    ['keeps ${base-url}x and ${net0/mac}', 'keeps ${base-url}x and ${net0/mac}'],
    ['ends in a backslash \\', 'ends in a backslash \\${}'],
    ['ends\\', 'ends\\${}'],
    ['back\\slash inside', 'back\\slash inside'],
    ['', ''],
    ['\n\r\t', ''],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      const output = ipxeWords(input);
      assert.equal(output, expected);
      assertSafeWords(input, output);
    });
  }

  test('property: any string becomes one line of plain words (no separator, comment, option, continuation)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom('|', '&', ';', '#', '-', ' ', '\n', '\r', '\t', '\\', '$', '{', '}', 'a', '\u0000', '\u000b', '\u000c') }),
    );
    fc.assert(
      fc.property(text, (input) => {
        assertSafeWords(input, ipxeWords(input));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('urlPath', () => {
  test('percent-encodes each segment, keeping the slashes', () => {
    assert.equal(urlPath('casper/vmlinuz'), 'casper/vmlinuz');
    assert.equal(urlPath('a b/c#d?e'), 'a%20b/c%23d%3Fe');
    // "${" in a file name must not become an iPXE setting
    assert.equal(urlPath('x${net0/mac}'), 'x%24%7Bnet0/mac%7D');
  });
});

describe('hostile labels in rendered scripts', () => {
  const image = (id: string, label: string, args = ''): ImageConfig => ({ id, label, dir: `/srv/${id}`, kernel: 'vmlinuz', initrds: ['initrd.img'], args });
  const config = (title: string, images: ImageConfig[]): BootstationConfig => ({
    server: { httpPort: 80, proxyDhcp: true },
    menu: { title, defaultImage: images[0]?.id, timeoutSeconds: 5 },
    ipxe: { keymap: 'us' },
    images,
    hosts: new Map([['52:54:00:12:34:56', { image: images[0]!.id }]]),
  });
  const hostile = 'Evil\nshell\r\n:bs-menu\n|| shell && reboot ; sanboot #x --gap -y \\';
  const benign = 'Good';
  const commandNames = (script: string): string[] => ipxeCommands(script).map((command) => command[0]!);

  test('a label with a newline followed by "shell" cannot create a new command line in the menu', () => {
    const hostileMenu = renderMenu({
      config: config(hostile, [image('a', hostile, hostile), image('b', hostile)]),
      serverUrl: 'http://10.0.0.1',
      client: { platform: 'efi' },
      missingFiles: new Map([['b', ['vmlinuz']]]),
    });
    const benignMenu = renderMenu({
      config: config(benign, [image('a', benign, benign), image('b', benign)]),
      serverUrl: 'http://10.0.0.1',
      client: { platform: 'efi' },
      missingFiles: new Map([['b', ['vmlinuz']]]),
    });
    assert.equal(hostileMenu.split('\n').length, benignMenu.split('\n').length, 'the hostile labels added script lines');
    assert.deepEqual(commandNames(hostileMenu), commandNames(benignMenu), 'the hostile labels changed which commands (and labels) the menu has');
    // the text is still shown, as words of the item line
    assert.match(hostileMenu, /^item bs-image-a Evil shell :bs-menu \$\{\}\|\| shell \$\{\}&& reboot \$\{\}; sanboot \$\{\}#x \$\{\}--gap \$\{\}-y \\\$\{\}$/m);
  });

  test('the same hostile label cannot change the commands of boot.ipxe for a fixed host', () => {
    const render = (text: string, missing: boolean): string =>
      renderBootScript({
        config: config(text, [image('a', text, text)]),
        serverUrl: 'http://10.0.0.1',
        client: { mac: '52:54:00:12:34:56' },
        missingFiles: missing ? new Map([['a', ['vmlinuz']]]) : new Map(),
      });
    for (const missing of [false, true]) {
      assert.deepEqual(commandNames(render(hostile, missing)), commandNames(render(benign, missing)), `boot.ipxe commands changed (files missing: ${missing})`);
    }
  });
});

describe('ipxeUrl (chain: URLs)', () => {
  test('keeps an ordinary URL and encodes what iPXE would read as a setting, a word break or a line join', () => {
    assert.equal(ipxeUrl('https://boot.netboot.xyz'), 'https://boot.netboot.xyz/');
    assert.equal(ipxeUrl('https://boot.netboot.xyz/menu.ipxe'), 'https://boot.netboot.xyz/menu.ipxe');
    assert.equal(ipxeUrl('http://h/x${net0/mac}?a=${platform}'), 'http://h/x%24%7Bnet0/mac%7D?a=%24{platform}');
    assert.equal(ipxeUrl('http://h/a b?q=c d\\'), 'http://h/a%20b?q=c%20d%5C');
    assert.equal(ipxeUrl('http://h/a\n|| shell\r\n:bs-menu'), 'http://h/a||%20shell:bs-menu');
  });

  test('property: any http URL becomes one word with no ${, whitespace, control character or trailing backslash', () => {
    const tail = fc.string({ unit: fc.constantFrom('|', '&', ';', '#', '-', ' ', '\n', '\r', '\t', '\\', '$', '{', '}', 'a', '/', '?', '%', '\u0000', '\u000b', '\u000c', 'é') });
    fc.assert(
      fc.property(tail, (rest) => {
        const input = `http://example.org/${rest}`;
        if (!URL.canParse(input)) return;
        const output = ipxeUrl(input);
        assert.ok(!output.includes('${'), `"\${" left in ${JSON.stringify(output)}`);
        assert.ok(!/[\u0000-\u0020\u007f]/.test(output), `whitespace or control character left in ${JSON.stringify(output)}`);
        assert.ok(!output.endsWith('\\'), `trailing backslash in ${JSON.stringify(output)}`);
        assert.deepEqual(ipxeCommands(`chain --autofree ${output} || goto x\n`), [['chain', '--autofree', output], ['||'], ['goto', 'x']]);
      }),
      { numRuns: 2000 },
    );
  });

  test('a hostile chain: URL in images.yaml leaves the menu with the same commands as a plain one, and the URL literal', () => {
    const menuOf = (url: string): string =>
      renderMenu({
        config: parseConfigText(`images:\n  - id: xyz\n    label: netboot.xyz\n    chain: ${JSON.stringify(url)}\n`, 'images.yaml'),
        serverUrl: 'http://10.0.0.1',
        client: { platform: 'pcbios' },
        missingFiles: new Map(),
      });
    // images.yaml refuses spaces and line breaks in chain: (config tests); this is the worst it lets through.
    const hostile = menuOf('https://evil.example/${net0/mac}||shell;reboot#x${}\\');
    const plain = menuOf('https://evil.example/x');
    assert.deepEqual(ipxeCommands(hostile).map((c) => c[0]), ipxeCommands(plain).map((c) => c[0]), 'the hostile URL changed the menu commands');
    const chain = ipxeCommands(hostile).find((c) => c[0] === 'chain');
    assert.deepEqual(chain, ['chain', '--autofree', 'https://evil.example/%24%7Bnet0/mac%7D||shell;reboot#x%24{}%5C']);
  });
});
