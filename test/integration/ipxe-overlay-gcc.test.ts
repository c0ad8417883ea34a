import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { BIOS_LEFT_OUT, IPXE_FEATURES, renderOverlay } from '../../src/ipxe/overlay.ts';
import { skipOrFail } from '../support/skip-policy.ts';

// The overlay headers through gcc -Werror the way iPXE includes them: after its own defaults. iPXE's
// source is not reachable here, so the defaults the overlay touches are restated below from v2.0.0's
// config/console.h, general.h and branding.h (values, and the BIOS block that drops HTTPS and others).
const exec = promisify(execFile);
const gcc = await exec('gcc', ['--version']).then(() => true, () => false);
const dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-overlay-'));
after(() => rm(dir, { recursive: true, force: true }));

const IPXE_DEFAULTS = `
#define KEYBOARD_MAP us
#define PRODUCT_NAME ""
#define PRODUCT_SHORT_NAME "iPXE"
#define DOWNLOAD_PROTO_HTTPS
#define DOWNLOAD_PROTO_FTP
#define DOWNLOAD_PROTO_NFS
#define CONSOLE_CMD
#define PARAM_CMD
#define FORM_CMD
#define IMAGE_TRUST_CMD
#define IMAGE_PNG
#define IBMGMT_CMD
#define FCMGMT_CMD
#define LOTEST_CMD
#define POWEROFF_CMD
#define REBOOT_CMD
#if defined ( PLATFORM_pcbios )
  #undef DOWNLOAD_PROTO_HTTPS
  #undef CONSOLE_CMD
  #undef PARAM_CMD
#endif
`;

for (const platform of ['pcbios', 'efi']) {
  test(`the overlay compiles with gcc -Werror after iPXE's defaults and links the dynamic keymap (PLATFORM_${platform})`, { skip: skipOrFail('ipxe-overlay-gcc', gcc ? undefined : 'gcc is not installed') }, async () => {
    const overlay = renderOverlay();
    const folder = join(dir, platform);
    await mkdir(folder);
    for (const [path, content] of Object.entries(overlay)) await writeFile(join(folder, path.replace('config/local/', '')), content);
    const checks = [
      ...IPXE_FEATURES.map((feature) => `#ifndef ${feature.name}\n#error ${feature.name} must be on\n#endif`),
      ...BIOS_LEFT_OUT.map((feature) => `#if defined ( PLATFORM_pcbios ) && defined ( ${feature.name} )\n#error ${feature.name} must be off on BIOS\n#endif`),
      '#if defined ( PLATFORM_efi ) && ! defined ( CONSOLE_FRAMEBUFFER )\n#error UEFI gets the framebuffer console\n#endif',
    ];
    await writeFile(join(folder, 'check.c'), [
      IPXE_DEFAULTS,
      '#include "console.h"',
      '#include "general.h"',
      '#include "branding.h"',
      ...checks,
      // config/config.c pastes KEYBOARD_MAP into the name of the object it links; src/core/dynkeymap.c
      // provides obj_keymap_dynamic and requires every layout.
      '#define KEYMAP_OBJECT( _map ) keymap_ ## _map',
      '#define REQUIRE_KEYMAP( _map ) KEYMAP_OBJECT ( _map )',
      'int REQUIRE_KEYMAP ( KEYBOARD_MAP ) = 1;',
      'const char product[] = PRODUCT_NAME;',
      '',
    ].join('\n'));
    await exec('gcc', ['-Werror', '-Wall', `-DPLATFORM_${platform}`, '-c', 'check.c', '-o', 'check.o'], { cwd: folder }).catch((error: { stderr: string }) => {
      assert.fail(`${platform}: gcc refused the overlay:\n${error.stderr}`);
    });
    const { stdout } = await exec('nm', ['check.o'], { cwd: folder });
    assert.match(stdout, /\bkeymap_dynamic$/m, 'KEYBOARD_MAP must name the dynamic keymap, which links every layout');
  });
}
