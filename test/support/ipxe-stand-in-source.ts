import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IPXE_KEYMAPS } from '../../src/config/model.ts';

const exec = promisify(execFile);

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
    '# The version block has both shapes a Makefile may carry: values computed from `git describe` in a',
    '# checkout, and plain numbers assigned with := otherwise; bootstation must read the plain numbers.',
    'ifneq ($(wildcard ../.git),)',
    'VERSIONS\t\t:= $(shell git describe --tags --always --long --abbrev=1 --match "v*")',
    'VERSION_MAJOR\t\t:= $(word 1,$(subst ., ,$(VERSIONS)))',
    'VERSION_MINOR\t\t:= $(word 2,$(subst ., ,$(VERSIONS)))',
    'VERSION_PATCH\t\t:= $(word 3,$(subst ., ,$(VERSIONS)))',
    'else',
    'VERSION_MAJOR\t\t:= 2',
    'VERSION_MINOR\t\t:= 0',
    'VERSION_PATCH\t\t:= 0',
    'endif',
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

/** A stand-in release tarball in the three forms a site may hold it in, with what its pin must say. */
export interface StandInRelease {
  /** The commit `git archive` wrote into the pax global header. */
  commit: string;
  /** SHA-256 of the tar stream (the same for all three files). */
  tarSha256: string;
  tar: string;
  gzip: string;
  xz: string;
}

/**
 * Makes a stand-in release the way GitHub makes upstream's: a commit of the tree at `source`, then
 * `git archive --format=tar --prefix=ipxe-2.0.0/` (a pax global header carrying the commit id), plus its
 * gzip and xz forms. The repository is removed again, so `source` stays a plain folder. Another `message`
 * makes a release of the same tree under another commit.
 */
export async function createStandInRelease(source: string, outDir: string, name: string, options: { message?: string } = {}): Promise<StandInRelease> {
  await mkdir(outDir, { recursive: true });
  const git = (...args: string[]): Promise<{ stdout: string }> =>
    exec('git', ['-C', source, '-c', 'user.name=stand-in', '-c', 'user.email=stand-in@example.invalid', '-c', 'commit.gpgsign=false', ...args]);
  await rm(join(source, '.git'), { recursive: true, force: true });
  try {
    await git('init', '-q');
    await git('add', '.');
    await git('commit', '-q', '-m', options.message ?? 'stand-in v2.0.0');
    const commit = (await git('rev-parse', 'HEAD')).stdout.trim();
    const tar = join(outDir, `${name}.tar`);
    await git('archive', '--format=tar', '--prefix=ipxe-2.0.0/', '-o', tar, 'HEAD');
    await exec('sh', ['-c', 'gzip -9nc "$1" > "$1.gz" && xz -c "$1" > "$1.xz"', 'sh', tar]);
    return { commit, tarSha256: createHash('sha256').update(await readFile(tar)).digest('hex'), tar, gzip: `${tar}.gz`, xz: `${tar}.xz` };
  } finally {
    await rm(join(source, '.git'), { recursive: true, force: true });
  }
}

/** Writes a pin file (the format of ipxe-src/pin.json) for a release. */
export async function writePin(file: string, pin: { version?: string; commit: string; url: string; tarSha256: string }): Promise<void> {
  await writeFile(file, `${JSON.stringify({ version: pin.version ?? 'v2.0.0', commit: pin.commit, url: pin.url, tar_sha256: pin.tarSha256 }, null, 2)}\n`);
}
