import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderMenu } from '../../src/boot/scripts.ts';
import { bootSpecsOf, type BootstationConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { normalizeEntryPath } from '../../src/ingest/entry-names.ts';
import { compileMatcher, matchGlob } from '../../src/ingest/globs.ts';
import { RECIPES, RECIPE_NAMES, type Recipe, type RecipeName } from '../../src/config/recipes.ts';
import { renameGlobs, resolveRenames } from '../../src/ingest/renames.ts';
import { assertGolden } from '../support/golden.ts';

const recipes = Object.entries(RECIPES) as Array<[RecipeName, Recipe]>;

function bootFiles(recipe: Recipe): string[] {
  return [...new Set(recipe.boot.flatMap((spec) => [spec.kernel, ...spec.initrds]))];
}

// The same rules images.yaml applies to extract patterns: relative, no "." or ".." or empty segments,
// no spaces, control characters or backslashes; only *, ** and ? as wildcards.
function globProblem(glob: string): string | undefined {
  if (glob === '' || glob.length > 255) return 'empty or longer than 255 characters';
  if (glob.startsWith('/')) return 'absolute';
  if (/[\u0000-\u0020\u007f\\[\]{}]/.test(glob)) return 'space, control character, backslash, brackets or braces';
  if (glob.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'empty, "." or ".." segment';
  if (glob.split('/').some((s) => s.includes('**') && s !== '**')) return '** inside a segment';
  return undefined;
}

// ${...} names a recipe may use: ours (set by the menu) and iPXE's own.
const KNOWN_VARIABLES = new Set(['base-url', 'iso-url', 'netX/mac:hexhyp']);

// How each distro's initramfs finds its root over HTTP: the argument that must be on its command line.
// null: the kernel and initrd are the whole system (installer, memory tester). Every recipe is listed,
// so a new one has to say.
const ROOT_ARGUMENT: Record<RecipeName, string | null> = {
  'sysrcd-legacy': 'netboot=${base-url}sysrcd.dat',
  systemrescue: 'archiso_http_srv=${base-url}',
  'debian-netboot': null,
  'debian-live': 'fetch=${base-url}live/filesystem.squashfs',
  ubuntu: 'url=${iso-url}',
  fedora: 'root=live:${base-url}LiveOS/squashfs.img',
  arch: 'archiso_http_srv=${base-url}',
  alpine: 'modloop=${base-url}boot/modloop-lts',
  clonezilla: 'fetch=${base-url}live/filesystem.squashfs',
  gparted: 'fetch=${base-url}live/filesystem.squashfs',
  memtest86plus: null,
  // The ISO travels inside the initramfs, not over HTTP from the initramfs.
  proxmox: null,
  'kali-live': 'fetch=${base-url}live/filesystem.squashfs',
};

// Each archive as its distro ships it (file names as the distros' own listings, install guides and the
// netboot.xyz build scripts show them; memtest86+'s ISO as Debian's memtest86+ 6.10 package holds it),
// abridged to the boot-relevant folders. Versioned names are what the renames exist for.
const ARCHIVES: Record<RecipeName, ReadonlyArray<{ name: string; paths: readonly string[] }>> = {
  'sysrcd-legacy': [
    {
      name: 'systemrescuecd-x86-5.3.2.iso',
      paths: ['isolinux/isolinux.cfg', 'isolinux/rescue32', 'isolinux/rescue64', 'isolinux/initram.igz', 'sysrcd.dat', 'sysrcd.md5', 'usb_inst.sh'],
    },
  ],
  systemrescue: [
    {
      name: 'systemrescue-12.01-amd64.iso',
      paths: [
        'EFI/boot/bootx64.efi',
        'boot/grub/grub.cfg',
        'isolinux/isolinux.cfg',
        'sysresccd/VERSION',
        'sysresccd/boot/amd_ucode.img',
        'sysresccd/boot/intel_ucode.img',
        'sysresccd/boot/x86_64/sysresccd.img',
        'sysresccd/boot/x86_64/vmlinuz',
        'sysresccd/pkglist.x86_64.txt',
        'sysresccd/x86_64/airootfs.sfs',
        'sysresccd/x86_64/airootfs.sha512',
        'sysrescue.d/100-defaults.yaml',
      ],
    },
  ],
  'debian-netboot': [
    {
      // tar member names start with "./"; ingest normalises them.
      name: 'netboot.tar.gz',
      paths: [
        './version.info',
        './pxelinux.0',
        './ldlinux.c32',
        './debian-installer/amd64/bootnetx64.efi',
        './debian-installer/amd64/grubx64.efi',
        './debian-installer/amd64/initrd.gz',
        './debian-installer/amd64/linux',
        './debian-installer/amd64/pxelinux.0',
        './debian-installer/amd64/boot-screens/menu.cfg',
      ],
    },
  ],
  'debian-live': [
    {
      name: 'debian-live-12.5.0-amd64-standard.iso',
      paths: [
        'EFI/boot/bootx64.efi',
        'boot/grub/grub.cfg',
        'isolinux/isolinux.bin',
        'live/filesystem.packages',
        'live/filesystem.size',
        'live/filesystem.squashfs',
        'live/initrd.img-6.1.0-18-amd64',
        'live/vmlinuz-6.1.0-18-amd64',
      ],
    },
  ],
  ubuntu: [
    {
      name: 'ubuntu-24.04.1-live-server-amd64.iso',
      paths: [
        'EFI/boot/bootx64.efi',
        'boot/grub/grub.cfg',
        'casper/hwe-initrd',
        'casper/hwe-vmlinuz',
        'casper/initrd',
        'casper/ubuntu-server-minimal.squashfs',
        'casper/ubuntu-server-minimal.ubuntu-server.squashfs',
        'casper/vmlinuz',
      ],
    },
  ],
  fedora: [
    {
      name: 'Fedora-Workstation-Live-x86_64-41-1.4.iso',
      paths: ['EFI/BOOT/BOOTX64.EFI', 'LiveOS/squashfs.img', 'boot/grub2/grub.cfg', 'images/pxeboot/initrd.img', 'images/pxeboot/vmlinuz'],
    },
    {
      name: 'Fedora-Workstation-Live-42-1.1.x86_64.iso',
      paths: ['EFI/BOOT/BOOTX64.EFI', 'LiveOS/squashfs.img', 'boot/grub2/grub.cfg', 'boot/x86_64/loader/initrd', 'boot/x86_64/loader/linux'],
    },
  ],
  arch: [
    {
      name: 'archlinux-2024.09.01-x86_64.iso',
      paths: [
        'EFI/BOOT/BOOTx64.EFI',
        'arch/boot/amd-ucode.img',
        'arch/boot/intel-ucode.img',
        'arch/boot/x86_64/initramfs-linux.img',
        'arch/boot/x86_64/vmlinuz-linux',
        'arch/pkglist.x86_64.txt',
        'arch/version',
        'arch/x86_64/airootfs.sfs',
        'arch/x86_64/airootfs.sfs.cms.sig',
        'arch/x86_64/airootfs.sha512',
        'boot/syslinux/syslinux.cfg',
        'loader/entries/01-archiso-x86_64-linux.conf',
      ],
    },
  ],
  alpine: [
    {
      name: 'alpine-netboot-3.20.3-x86_64.tar.gz',
      paths: [
        'boot/System.map-lts',
        'boot/config-lts',
        'boot/initramfs-lts',
        'boot/modloop-lts',
        'boot/vmlinuz-lts',
        'boot/System.map-virt',
        'boot/config-virt',
        'boot/initramfs-virt',
        'boot/modloop-virt',
        'boot/vmlinuz-virt',
      ],
    },
  ],
  clonezilla: [
    {
      name: 'clonezilla-live-3.2.0-5-amd64.zip',
      paths: [
        'Clonezilla-Live-Version',
        'EFI/boot/bootx64.efi',
        'boot/grub/grub.cfg',
        'live/filesystem.packages',
        'live/filesystem.squashfs',
        'live/initrd.img',
        'live/vmlinuz',
        'syslinux/syslinux.cfg',
      ],
    },
  ],
  gparted: [
    {
      name: 'gparted-live-1.6.0-3-amd64.zip',
      paths: ['EFI/boot/bootx64.efi', 'GParted-Live-Version', 'boot/grub/grub.cfg', 'live/filesystem.squashfs', 'live/initrd.img', 'live/vmlinuz', 'syslinux/syslinux.cfg'],
    },
  ],
  memtest86plus: [
    { name: 'mt86plus_7.20.binaries.zip', paths: ['memtest32.bin', 'memtest32.efi', 'memtest64.bin', 'memtest64.efi'] },
    // Exactly what xorriso lists in Debian's memtest86+x64.iso (memtest86+ 6.10).
    { name: 'mt86plus_7.20_64.iso', paths: ['EFI/BOOT/bootx64.efi', 'boot/floppy.img', 'boot.catalog'] },
    // Exactly what dpkg-deb -c lists in Debian's memtest86+_6.10-4_amd64.deb (bookworm), folders left out.
    {
      name: 'memtest86+_6.10-4_amd64.deb',
      paths: [
        './boot/memtest86+ia32.bin',
        './boot/memtest86+ia32.efi',
        './boot/memtest86+x64.bin',
        './boot/memtest86+x64.efi',
        './etc/grub.d/20_memtest86+',
        './usr/lib/memtest86+/memtest86+ia32.iso',
        './usr/lib/memtest86+/memtest86+x64.iso',
        './usr/share/doc/memtest86+/README.Debian',
        './usr/share/doc/memtest86+/README.md.gz',
        './usr/share/doc/memtest86+/changelog.Debian.gz',
        './usr/share/doc/memtest86+/copyright',
        './usr/share/doc/memtest86+/examples/grub-menu.lst',
      ],
    },
  ],
  proxmox: [
    {
      name: 'proxmox-ve_8.2-1.iso',
      paths: ['boot/linux26', 'boot/initrd.img', 'boot/grub/grub.cfg', 'pve-base.squashfs', 'pve-installer.squashfs', 'proxmox/packages/Packages'],
    },
  ],
  'kali-live': [
    {
      name: 'kali-linux-2024.4-live-amd64.iso',
      paths: [
        'EFI/boot/bootx64.efi',
        'boot/grub/grub.cfg',
        'isolinux/isolinux.cfg',
        'live/filesystem.packages',
        'live/filesystem.size',
        'live/filesystem.squashfs',
        'live/initrd.img',
        'live/vmlinuz',
      ],
    },
  ],
};

// The files a `${base-url}<path>` argument makes the client fetch, and for archiso what its HTTP hook
// fetches below archiso_http_srv (<archisobasedir>/x86_64/airootfs.sfs and, with checksum, .sha512).
function fetchedFiles(args: string): string[] {
  const words = args.split(' ');
  const files = words.flatMap((word) => {
    const at = word.indexOf('${base-url}');
    const rest = at === -1 ? '' : word.slice(at + '${base-url}'.length);
    return rest ? [rest] : [];
  });
  if (words.some((word) => word === 'archiso_http_srv=${base-url}')) {
    const base = words.find((word) => word.startsWith('archisobasedir='))?.slice('archisobasedir='.length) ?? 'arch';
    files.push(`${base}/x86_64/airootfs.sfs`);
    if (words.includes('checksum') || words.includes('checksum=y')) files.push(`${base}/x86_64/airootfs.sha512`);
  }
  return files;
}

const SERVER = 'http://10.77.0.2';

function parseImages(images: string): BootstationConfig {
  return parseConfigText(`menu: {title: Recipes, timeout: 5}\nimages:\n${images}`, 'images.yaml', { dataDir: '/var/lib/bootstation' });
}

// One images.yaml entry per recipe, each with a local archive of the name its distro ships.
function recipeImagesYaml(names: readonly RecipeName[]): string {
  return names.map((name) => `  - id: ${name}\n    recipe: ${name}\n    source: {path: /isos/${ARCHIVES[name][0]!.name}}\n`).join('');
}

function menuFor(config: BootstationConfig, platform: 'efi' | 'pcbios'): string {
  return renderMenu({ config, serverUrl: SERVER, client: { mac: '52:54:00:12:34:56', platform, buildarch: platform === 'efi' ? 'x86_64' : 'i386' }, missingFiles: new Map() });
}

// The lines that boot one image, from its label to the boot command.
function imageSection(menu: string, id: string): string[] {
  const lines = menu.split('\n');
  const start = lines.indexOf(`:bs-image-${id}`);
  assert.ok(start >= 0, `menu has a section for ${id}`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('boot '));
  return lines.slice(start + 1, end + 1);
}

describe('built-in recipes: consistency', () => {
  test('RECIPE_NAMES lists every recipe, and every recipe says how its root is found and which archives it takes', () => {
    assert.deepEqual([...RECIPE_NAMES].sort(), Object.keys(RECIPES).sort());
    assert.deepEqual(Object.keys(ROOT_ARGUMENT).sort(), [...RECIPE_NAMES].sort());
    assert.deepEqual(Object.keys(ARCHIVES).sort(), [...RECIPE_NAMES].sort());
  });

  for (const [name, recipe] of recipes) {
    describe(name, () => {
      test('boot files are covered by an extract pattern or a rename target, and every rename target is used', () => {
        const extract = compileMatcher(recipe.extract);
        const targets = Object.keys(recipe.renames ?? {});
        for (const file of bootFiles(recipe)) {
          assert.ok(extract.matches(file) || targets.includes(file), `${file} is neither extracted nor a rename target`);
        }
        for (const target of targets) {
          assert.ok(bootFiles(recipe).includes(target) || extract.matches(target), `rename target ${target} is neither booted nor extracted`);
        }
      });

      test('extract patterns, rename globs and rename targets are valid relative paths and patterns', () => {
        const renames = Object.entries(recipe.renames ?? {});
        for (const glob of [...recipe.extract, ...renames.flatMap(([, globs]) => renameGlobs(globs))]) {
          assert.equal(globProblem(glob), undefined, `pattern ${JSON.stringify(glob)}`);
        }
        for (const file of [...bootFiles(recipe), ...renames.map(([target]) => target)]) {
          assert.equal(globProblem(file), undefined, `path ${JSON.stringify(file)}`);
          assert.doesNotMatch(file, /[*?]/, `${file}: boot files and rename targets are plain paths`);
        }
        assert.equal(new Set(recipe.extract).size, recipe.extract.length, 'no pattern twice');
      });

      test('the archive is kept exactly when ${iso-url} or an archive initrd uses it', () => {
        const usesArchive = recipe.boot.some((spec) => spec.args.includes('${iso-url}') || spec.archiveInitrdAt !== undefined);
        assert.equal(usesArchive, recipe.keepArchive === true);
      });

      test('the argument that finds the root over HTTP is there, and only known ${...} variables', () => {
        const expected = ROOT_ARGUMENT[name];
        for (const spec of recipe.boot) {
          const words = spec.args.split(' ');
          if (expected === null) assert.doesNotMatch(spec.args, /\$\{(base|iso)-url\}/, 'nothing fetched over HTTP');
          else assert.ok(words.includes(expected), `${JSON.stringify(spec.args)} has ${expected}`);
          for (const [, variable] of spec.args.matchAll(/\$\{([^}]*)\}/g)) assert.ok(KNOWN_VARIABLES.has(variable!), `unknown variable \${${variable}}`);
          // The menu adds initrd=<name> for every initrd itself; the ISO's own names would not match.
          assert.ok(!words.some((word) => word.startsWith('initrd=')), 'no initrd= in args');
          assert.equal(spec.args, spec.args.trim().replace(/ {2,}/g, ' '), 'single spaces');
        }
      });

      test('files named after ${base-url} are extracted (or renamed into place)', () => {
        const extract = compileMatcher([...recipe.extract, ...bootFiles(recipe)]);
        const targets = Object.keys(recipe.renames ?? {});
        for (const spec of recipe.boot) {
          for (const file of fetchedFiles(spec.args)) {
            assert.ok(extract.matches(file) || targets.includes(file), `${file} is fetched by the client but not extracted`);
          }
        }
      });

      test('early microcode comes before the initramfs', () => {
        for (const spec of recipe.boot) {
          const firstOther = spec.initrds.findIndex((file) => !/ucode/.test(file));
          const lastUcode = spec.initrds.findLastIndex((file) => /ucode/.test(file));
          if (lastUcode >= 0) assert.ok(lastUcode < firstOther, `${spec.initrds.join(', ')}: microcode first`);
        }
      });

      test('several specs are per firmware: each names its families, no family twice, BIOS first', () => {
        if (recipe.boot.length === 1) return;
        const families = recipe.boot.map((spec) => spec.families ?? []);
        assert.ok(families.every((list) => list.length > 0), 'every spec of several names its firmware');
        assert.equal(new Set(families.flat()).size, families.flat().length, 'no firmware has two specs');
        assert.equal(new Set(recipe.boot.map((spec) => spec.kernel)).size, recipe.boot.length, 'different files per firmware');
        // A client that does not say its firmware gets the first spec: the legacy file, as iPXE's BIOS build is the older default.
        assert.deepEqual(recipe.boot[0]?.families, ['bios']);
      });

      test('title and notes say what users need: the archive to download and the RAM', () => {
        assert.ok(recipe.title.length > 0 && recipe.title.length <= 80);
        assert.match(recipe.notes, /^Archive: /);
        assert.match(recipe.notes, /RAM/);
      });

      for (const archive of ARCHIVES[name]) {
        test(`from ${archive.name} as the distro ships it, every file the boot needs is installed`, () => {
          const paths = new Set(
            archive.paths.map((entry) => {
              const normalized = normalizeEntryPath(entry);
              assert.ok(normalized.ok, entry);
              return normalized.path;
            }),
          );
          const { moves, ambiguous } = resolveRenames(recipe.renames ?? {}, paths);
          assert.deepEqual(ambiguous, [], 'no rename is ambiguous');
          const extract = compileMatcher([...bootFiles(recipe), ...recipe.extract]);
          const installed = new Set([...[...paths].filter((path) => extract.matches(path)), ...moves.map((move) => move.target)]);
          const needed = [...bootFiles(recipe), ...recipe.boot.flatMap((spec) => fetchedFiles(spec.args))];
          for (const file of needed) assert.ok(installed.has(file), `${file} is installed from ${archive.name}`);
          // Nothing beyond what the boot uses (plus checksum and signature files next to a root image).
          for (const file of installed) {
            assert.ok(needed.includes(file) || /\.(sha512|sig|md5)$/.test(file), `${file} is extracted but never used`);
          }
        });
      }
    });
  }

  test('versioned names are renamed to the stable ones the recipe boots', () => {
    const listing = new Set(ARCHIVES['debian-live'][0]!.paths);
    assert.deepEqual(resolveRenames(RECIPES['debian-live'].renames, listing).moves, [
      { target: 'live/vmlinuz', source: 'live/vmlinuz-6.1.0-18-amd64' },
      { target: 'live/initrd.img', source: 'live/initrd.img-6.1.0-18-amd64' },
    ]);
    // When the archive has the stable name itself, that file is used as it is.
    const unversioned = new Set([...listing, 'live/vmlinuz', 'live/initrd.img']);
    assert.deepEqual(resolveRenames(RECIPES['debian-live'].renames, unversioned), { moves: [], ambiguous: [] });
    assert.ok(matchGlob(RECIPES.systemrescue.extract[4], 'sysresccd/x86_64/airootfs.sha512'));
  });
});

describe('built-in recipes in images.yaml', () => {
  test('recipe: <name> with a local archive parses into the recipe boot files and an ingest spec', () => {
    const config = parseImages(recipeImagesYaml(RECIPE_NAMES));
    for (const [name, recipe] of recipes) {
      const image = config.images.find((candidate) => candidate.id === name);
      assert.ok(image, name);
      assert.equal(image.kernel, recipe.boot[0]?.kernel);
      assert.deepEqual(image.initrds, recipe.boot[0]?.initrds);
      assert.equal(image.args, recipe.boot[0]?.args);
      assert.deepEqual(bootSpecsOf(image).map((spec) => ({ kernel: spec.kernel, initrds: spec.initrds, args: spec.args, families: spec.families })), recipe.boot.map((spec) => ({ kernel: spec.kernel, initrds: spec.initrds, args: spec.args, families: spec.families })));
      assert.equal(image.ingest?.recipe, name);
      assert.deepEqual(image.ingest?.renames, 'renames' in recipe ? recipe.renames : undefined);
      for (const file of bootFiles(recipe)) assert.ok(image.ingest?.extract.includes(file), `${name}: ${file} extracted`);
      for (const pattern of recipe.extract) assert.ok(image.ingest?.extract.includes(pattern), `${name}: ${pattern} extracted`);
      assert.equal(image.ingest?.keepArchiveAs, recipe.keepArchive ? ARCHIVES[name][0]!.name : undefined);
    }
  });

  test('an entry overrides a recipe key by key: its own args, the recipe files', () => {
    const [alpine] = parseImages(`  - id: alpine
    recipe: alpine
    source: {path: /isos/alpine-netboot-3.19.4-x86_64.tar.gz}
    boot: {args: "ip=dhcp modules=loop,squashfs modloop=\${base-url}boot/modloop-lts alpine_repo=http://dl-cdn.alpinelinux.org/alpine/v3.19/main"}
`).images;
    assert.equal(alpine?.kernel, 'boot/vmlinuz-lts');
    assert.match(alpine?.args ?? '', /alpine\/v3\.19\/main/);
  });

  test('memtest86plus boots the .efi on UEFI and the .bin on BIOS and on clients that do not say', () => {
    const config = parseImages(recipeImagesYaml(['memtest86plus']));
    assert.deepEqual(imageSection(menuFor(config, 'efi'), 'memtest86plus').filter((line) => line.startsWith('kernel ')), [
      'kernel ${base-url}memtest64.efi || goto bs-failed',
    ]);
    assert.deepEqual(imageSection(menuFor(config, 'pcbios'), 'memtest86plus').filter((line) => line.startsWith('kernel ')), [
      'kernel ${base-url}memtest64.bin || goto bs-failed',
    ]);
    const unknown = renderMenu({ config, serverUrl: SERVER, client: {}, missingFiles: new Map() });
    assert.match(unknown, /^kernel \$\{base-url\}memtest64\.bin \|\| goto bs-failed$/m);
  });

  test('ubuntu sets ${iso-url} to the kept ISO and hands it to casper', () => {
    const config = parseImages(recipeImagesYaml(['ubuntu']));
    assert.deepEqual(imageSection(menuFor(config, 'efi'), 'ubuntu'), [
      'echo Booting ubuntu',
      'imgfree',
      'set base-url http://10.77.0.2/images/ubuntu/',
      'set iso-url ${base-url}ubuntu-24.04.1-live-server-amd64.iso',
      'kernel ${base-url}casper/vmlinuz initrd=initrd boot=casper ip=dhcp netboot=url url=${iso-url} cloud-config-url=/dev/null BOOTIF=01-${netX/mac:hexhyp} || goto bs-failed',
      'initrd --name initrd ${base-url}casper/initrd || goto bs-failed',
      'boot || goto bs-failed',
    ]);
  });

  test('archiso recipes load microcode, then the initramfs, and point archiso_http_srv at the image folder', () => {
    const config = parseImages(recipeImagesYaml(['systemrescue']));
    assert.deepEqual(imageSection(menuFor(config, 'pcbios'), 'systemrescue').slice(3), [
      'kernel ${base-url}sysresccd/boot/x86_64/vmlinuz initrd=intel_ucode.img initrd=amd_ucode.img initrd=sysresccd.img archisobasedir=sysresccd archiso_http_srv=${base-url} ip=dhcp checksum BOOTIF=01-${netX/mac:hexhyp} || goto bs-failed',
      'initrd --name intel_ucode.img ${base-url}sysresccd/boot/intel_ucode.img || goto bs-failed',
      'initrd --name amd_ucode.img ${base-url}sysresccd/boot/amd_ucode.img || goto bs-failed',
      'initrd --name sysresccd.img ${base-url}sysresccd/boot/x86_64/sysresccd.img || goto bs-failed',
      'boot || goto bs-failed',
    ]);
  });

  // Whole menus with a few recipes side by side, as a UEFI and a BIOS client get them.
  const GOLDEN_RECIPES: RecipeName[] = ['systemrescue', 'debian-live', 'ubuntu', 'fedora', 'memtest86plus'];
  for (const platform of ['efi', 'pcbios'] as const) {
    test(`golden menu for a ${platform} client: ${GOLDEN_RECIPES.join(', ')}`, () => {
      assertGolden(`recipes/menu-${platform}.ipxe`, menuFor(parseImages(recipeImagesYaml(GOLDEN_RECIPES)), platform));
    });
  }
});
