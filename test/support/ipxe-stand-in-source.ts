import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IPXE_KEYMAPS } from '../../src/config/schema.ts';

/**
 * A STAND-IN for an iPXE source tree, for tests only (the real source cannot be downloaded here): a
 * src/Makefile with iPXE's version lines and one rule per make goal bootstation uses. Each run of a goal
 * records how make was called (goals, EMBED=, CROSS=, -j), copies the config/local headers and the EMBED
 * file it saw, and writes a small fake binary naming the goal, the keymap and the embedded script's digest.
 */
export async function createStandInIpxeSource(root: string, recordDir: string): Promise<void> {
  await mkdir(join(root, 'src', 'config', 'local'), { recursive: true });
  await mkdir(join(root, 'src', 'hci', 'keymap'), { recursive: true });
  await mkdir(recordDir, { recursive: true });
  for (const keymap of IPXE_KEYMAPS) await writeFile(join(root, 'src', 'hci', 'keymap', `keymap_${keymap}.c`), `/* stand-in keymap ${keymap} */\n`);
  // The real tree ships empty config/local headers that a build overwrites.
  for (const header of ['console.h', 'general.h', 'branding.h']) await writeFile(join(root, 'src', 'config', 'local', header), '');
  await writeFile(join(root, 'README'), 'Stand-in for an iPXE source tree (bootstation tests).\n');
  await writeFile(join(root, 'src', 'Makefile'), standInMakefile(recordDir));
}

const GOALS = ['bin/undionly.kpxe', 'bin-x86_64-efi/ipxe.efi', 'bin-x86_64-efi/snponly.efi', 'bin-i386-efi/ipxe.efi', 'bin-arm64-efi/snp.efi'];

function standInMakefile(recordDir: string): string {
  // Recipes are shell lines; $$ is a literal $ for the shell.
  return [
    '# Stand-in for iPXE\'s src/Makefile (bootstation tests): records its invocation, writes fake binaries.',
    'VERSION_MAJOR\t= 2',
    'VERSION_MINOR\t= 0',
    'VERSION_PATCH\t= 0',
    `RECORD_DIR := ${recordDir}`,
    '',
    `${GOALS.join(' ')}:`,
    '\t@mkdir -p $(@D)',
    '\t@seen=$(RECORD_DIR)/seen-$$(date +%s%N)-$(subst /,_,$@) && mkdir -p $$seen \\',
    '\t  && cp config/local/console.h config/local/general.h config/local/branding.h "$(EMBED)" $$seen/ \\',
    '\t  && printf "goal=%s\\tgoals=%s\\tembed=%s\\tcross=%s\\tjobs=%s\\tseen=%s\\n" "$@" "$(MAKECMDGOALS)" "$(EMBED)" "$(CROSS)" "$(filter -j%,$(MAKEFLAGS))" "$$seen" >> $(RECORD_DIR)/calls.log',
    '\t@printf "stand-in build of %s\\n%s\\nembed sha256 %s\\n" "$@" "$$(grep "^#define KEYBOARD_MAP" config/local/console.h)" "$$(sha256sum < "$(EMBED)" | cut -d" " -f1)" > $@',
    '',
  ].join('\n');
}

/** One make goal run recorded by the stand-in Makefile. */
export interface StandInCall {
  goal: string;
  goals: string[];
  embed: string;
  cross: string;
  jobs: string;
  /** Folder holding the config/local headers and the EMBED file as the goal saw them. */
  seen: string;
}

/** The goal runs the stand-in recorded so far, in order. */
export async function standInCalls(recordDir: string): Promise<StandInCall[]> {
  const text = await readFile(join(recordDir, 'calls.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields = Object.fromEntries(line.split('\t').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]));
      return { goal: fields['goal'] ?? '', goals: (fields['goals'] ?? '').split(' '), embed: fields['embed'] ?? '', cross: fields['cross'] ?? '', jobs: fields['jobs'] ?? '', seen: fields['seen'] ?? '' };
    });
}

/** The files a recorded goal run saw (config/local headers and the EMBED file), by base name. */
export async function seenFiles(call: StandInCall): Promise<Map<string, string>> {
  const names = await readdir(call.seen);
  return new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(call.seen, name), 'utf8')] as const)));
}
