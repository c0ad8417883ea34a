import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IPXE_KEYMAPS } from '../../src/config/model.ts';
import { DHCP_TRIES, renderEmbedScript } from '../../src/ipxe/embed-script.ts';
import { setKeymapCommand } from '../../src/boot/ipxe-text.ts';
import { DEFAULT_KEYMAP, KeymapError, parseKeymap } from '../../src/ipxe/keymap.ts';
import { OVERLAY_HEADERS, renderOverlay } from '../../src/ipxe/overlay.ts';
import { loadPin, parsePin, PinError } from '../../src/ipxe/pin.ts';
import { buildScriptTargetArgs, DEFAULT_TARGETS, parseTargets, TargetsError } from '../../src/ipxe/targets.ts';
import { assertGolden } from '../support/golden.ts';

// Regenerate the golden files with: UPDATE_GOLDEN=1 node --test test/unit/ipxe-config.test.ts

describe('keymaps', () => {
  test('every layout of iPXE v2.0.0 is accepted, and selected with one set command', () => {
    assert.equal(IPXE_KEYMAPS.length, 30, 'iPXE v2.0.0 ships 30 keymaps (src/core/dynkeymap.c requires each)');
    for (const keymap of IPXE_KEYMAPS) {
      assert.equal(parseKeymap(keymap), keymap);
      // One iPXE token: no separator, comment or expansion can hide in a layout name.
      assert.match(setKeymapCommand(keymap), /^set keymap [a-z][a-z0-9-]*$/, `${keymap} must make a plain set command`);
    }
    assert.equal(setKeymapCommand('no-latin1'), 'set keymap no-latin1', 'the setting takes the name with "-" (keymap_find compares the .name of keymap_no-latin1.c)');
    assert.equal(DEFAULT_KEYMAP, 'us');
  });

  test('other names are rejected with the list of layouts', () => {
    for (const name of ['xx', 'DE', 'no_latin1', 'de ', '', '../us', 'sr']) {
      assert.throws(() => parseKeymap(name), (error: unknown) => {
        assert.ok(error instanceof KeymapError, `${JSON.stringify(name)} must throw a KeymapError`);
        assert.match(error.message, /use one of al by cf cz de .* sr-latin ua uk us$/);
        return true;
      });
    }
  });
});

describe('config/local overlay', () => {
  test('the headers match their golden files', () => {
    const overlay = renderOverlay();
    for (const header of OVERLAY_HEADERS) assertGolden(`ipxe/overlay-dynamic/${header.replace('config/local/', '')}`, overlay[header]);
  });

  test('the overlay committed in ipxe-src/ is the rendering', () => {
    const overlay = renderOverlay();
    for (const header of OVERLAY_HEADERS) assertGolden(`../../ipxe-src/${header}`, overlay[header]);
  });

  test('every layout is linked in, so the layout is chosen at run time and a new one needs no rebuild', () => {
    assert.match(renderOverlay()['config/local/console.h'], /^#define KEYBOARD_MAP dynamic$/m);
  });

  test('KEYBOARD_MAP and the branding strings are #undef\'d before they are given a value', () => {
    const headers = Object.values(renderOverlay()).join('\n');
    for (const match of headers.matchAll(/^\s*#define (\w+) (\S.*)$/gm)) {
      const [line, name, value] = match;
      if (value?.startsWith('/*')) continue; // a flag with a comment, no value
      assert.ok(headers.includes(`#undef ${name}\n${line}`), `${name} gets a value, so "#undef ${name}" must come right before it`);
    }
  });

  test('what the issue asks for is enabled, and the BIOS build leaves out only unused protocols', () => {
    const general = renderOverlay()['config/local/general.h'];
    for (const flag of ['DOWNLOAD_PROTO_HTTPS', 'PING_CMD', 'NSLOOKUP_CMD', 'REBOOT_CMD', 'POWEROFF_CMD', 'CONSOLE_CMD', 'PARAM_CMD', 'FORM_CMD', 'IMAGE_TRUST_CMD', 'IMAGE_PNG']) {
      assert.match(general, new RegExp(`^#define ${flag}\\s`, 'm'), `${flag} must be defined on every platform`);
    }
    const bios = general.slice(general.indexOf('#if defined ( PLATFORM_pcbios )'), general.indexOf('#endif'));
    assert.doesNotMatch(bios, /HTTPS|CONSOLE_CMD|PARAM_CMD/, 'the BIOS block must not take back a requested feature');
  });
});

describe('embedded script', () => {
  test('port 80 with the default layout, and port 8080 with layout de, match their golden files', () => {
    assertGolden('ipxe/embed-port-80.ipxe', renderEmbedScript(80));
    assertGolden('ipxe/embed-port-8080-keymap-de.ipxe', renderEmbedScript(8080, 'de'));
  });

  test("the build's layout is the first command, so the shell and the no-network fallback already use it", () => {
    const commands = renderEmbedScript(80, 'fr').split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    assert.equal(commands[0], 'set keymap fr');
    assert.equal(renderEmbedScript(80).split('\n').filter((line) => line.startsWith('set keymap')).join(), 'set keymap us', 'the default layout is us');
  });

  test('user-class is set before the first dhcp, so it goes out in option 77 of every request', () => {
    const lines = renderEmbedScript(80).split('\n');
    const userClass = lines.indexOf('set user-class bootstation');
    const firstDhcp = lines.findIndex((line) => /^dhcp\b/.test(line));
    assert.ok(userClass >= 0 && firstDhcp > userClass, `set user-class (line ${userClass + 1}) must come before dhcp (line ${firstDhcp + 1})`);
  });

  test("chains boot.ipxe with the baked-in port from the ProxyDHCP's next-server, then DHCP's next-server, then a shell", () => {
    // A router that names itself as next-server (dnsmasq's default) must not be asked before bootstation.
    const script = renderEmbedScript(8080);
    const chains = script.split('\n').filter((line) => line.includes('chain --autofree'));
    assert.deepEqual(chains, [
      'isset ${proxydhcp/next-server} && chain --autofree http://${proxydhcp/next-server}:8080/boot.ipxe?mac=${net0/mac}&platform=${platform}&buildarch=${buildarch} ||',
      'isset ${next-server} && chain --autofree http://${next-server}:8080/boot.ipxe?mac=${net0/mac}&platform=${platform}&buildarch=${buildarch} ||',
    ]);
    const lines = script.split('\n');
    assert.equal(lines[lines.indexOf(chains[1]!) + 1]?.startsWith('echo bootstation: could not load boot.ipxe'), true, 'after both, it says what failed');
    assert.match(script, new RegExp(`iseq \\$\\{dhcp-tries\\} ${DHCP_TRIES} && goto no-network`));
    assert.match(script, /^shell$/m);
  });

  test("no command line contains a token iPXE's tokenizer would split or drop", () => {
    for (const line of renderEmbedScript(80).split('\n')) {
      if (line.startsWith('#') || line.startsWith(':') || line === '') continue;
      const tokens = line.split(/\s+/);
      for (const [index, token] of tokens.entries()) {
        assert.ok(!token.startsWith('#'), `"${token}" in "${line}" would start a comment`);
        assert.ok(token !== ';', `a lone ";" in "${line}" would separate commands`);
        if (token === '||' || token === '&&') assert.ok(index > 0, `"${line}" must not start with ${token}`);
      }
      assert.ok(!/[;#]/.test(line.replace(/\s(\|\||&&)(\s|$)/g, ' ')), `"${line}" must carry no ; or #`);
    }
  });

  test('a port outside 1–65535 is refused', () => {
    for (const port of [0, 65536, 1.5, Number.NaN]) assert.throws(() => renderEmbedScript(port), RangeError);
  });
});

describe('targets', () => {
  test('each target hands scripts/build-ipxe.sh the make goals the issue names, under the names ProxyDHCP serves', () => {
    assert.deepEqual(buildScriptTargetArgs(), [
      '--target', 'bios:i386:bin/undionly.kpxe=undionly.kpxe',
      '--target', 'efi64:x86_64:bin-x86_64-efi/ipxe.efi=ipxe.efi,bin-x86_64-efi/snponly.efi=snponly.efi',
      '--target', 'efi32:i386:bin-i386-efi/ipxe.efi=ipxe32.efi',
      '--target', 'arm64:arm64:bin-arm64-efi/snp.efi=snp-arm64.efi',
    ]);
    assert.deepEqual(buildScriptTargetArgs(['efi32']), ['--target', 'efi32:i386:bin-i386-efi/ipxe.efi=ipxe32.efi'], 'only the chosen targets');
    assert.deepEqual(DEFAULT_TARGETS, ['bios', 'efi64', 'efi32', 'arm64'], 'every target is built by default');
  });

  test('--targets is parsed in table order without repeats; unknown names are refused with the list', () => {
    assert.deepEqual(parseTargets('efi32, bios,efi32'), ['bios', 'efi32']);
    assert.throws(() => parseTargets('bios,efi'), (error: unknown) => error instanceof TargetsError && /"efi".*bios,efi64,efi32,arm64/.test(error.message));
    assert.throws(() => parseTargets(','), TargetsError);
  });
});

describe('pin', () => {
  const good = { version: 'v2.0.0', commit: '12'.repeat(20), url: 'https://example.invalid/ipxe-2.0.0.tar.gz', tar_sha256: 'ab'.repeat(32) };
  const text = (changes: Record<string, unknown>): string => JSON.stringify({ ...good, ...changes });

  test('a pin names version, commit, URL and the digest of the decompressed tar stream', () => {
    assert.deepEqual(parsePin(text({}), 'pin.json'), { version: 'v2.0.0', commit: good.commit, url: good.url, tarSha256: good.tar_sha256 });
  });

  test('a malformed pin is refused naming the field and what it must hold', () => {
    const cases: Array<[string, RegExp]> = [
      [text({ version: '2.0' }), /^pin\.json: "version" must be an iPXE release tag such as v2\.0\.0$/],
      [text({ commit: 'abc' }), /^pin\.json: "commit" must be the release tag's commit \(40 lower-case hexadecimal digits\)$/],
      [text({ url: 'ftp://x' }), /^pin\.json: "url" must be the http\(s\) URL/],
      [text({ tar_sha256: null }), /^pin\.json: "tar_sha256" must be the SHA-256 of the release's decompressed tar stream/],
      [text({ tar_sha256: 'AB'.repeat(32) }), /"tar_sha256" must be/],
      ['{', /^pin\.json is not valid JSON/],
    ];
    for (const [input, message] of cases) assert.throws(() => parsePin(input, 'pin.json'), (error: unknown) => error instanceof PinError && message.test(error.message), input);
  });

  test('the committed pin is upstream v2.0.0: tag commit, GitHub archive URL and tar stream digest', async () => {
    assert.deepEqual(await loadPin(), {
      version: 'v2.0.0',
      commit: '12798ec29aa8a64d8675c4378b99f5fe28447afb',
      url: 'https://github.com/ipxe/ipxe/archive/refs/tags/v2.0.0.tar.gz',
      tarSha256: 'b2bd5df93cbe60a14b3f2ed27b4c79754127c6279fd996c8ef3d1a8db34e69c3',
    });
  });

  test('a pin file that cannot be read names the file and --pin', async () => {
    await assert.rejects(loadPin('/nonexistent/pin.json'), (error: unknown) => error instanceof PinError && /^the pin file \/nonexistent\/pin\.json cannot be read \(ENOENT\); give an existing file with --pin/.test(error.message));
  });
});
