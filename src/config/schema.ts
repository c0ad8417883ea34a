// The images.yaml schema (zod): snake_case keys, unknown keys rejected, every bound with its message.
import { z } from 'zod';
import { nonUnicastKind } from '../net/ipv4-address.ts';
import { MAC_ADDRESS } from '../text/mac-address.ts';
import { CHECKSUM_ALGORITHMS, CPU_ARCHITECTURES, FIRMWARE_FAMILIES, IPXE_KEYMAPS } from './model.ts';
import { RECIPE_NAMES, RECIPES, recipesWithReleases, releaseSites, type Recipe } from './recipes.ts';

// The length of each digest in hexadecimal digits.
const CHECKSUM_HEX_DIGITS = { sha256: 64, sha512: 128, md5: 32 } as const;

const IMAGE_ID = /^[a-z0-9][a-z0-9-]*$/;

// The discoveries whose index is signed with an OpenPGP key (a Debian archive): the ones keyring: applies to.
const isSigned = (kind: string | undefined): boolean => kind === 'debian-dists' || kind === 'debian-package';

const imageId = z
  .string()
  .max(63, 'at most 63 characters')
  .regex(IMAGE_ID, 'must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and hyphens)');

// A file inside the image's folder: relative, no "..", no control characters, so it can go
// into a URL and an iPXE script line unchanged. One message per path, the first rule it breaks.
const relativeFile = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'at most 255 characters')
  .superRefine((path, ctx) => {
    const problem = relativeFileProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

function relativeFileProblem(path: string): string | undefined {
  if (path.startsWith('/')) return 'must be relative to the image folder';
  if (/[\u0000-\u0020\u007f\\]/.test(path)) return 'must not contain spaces, control characters or backslashes';
  if (path.split('/').some((s) => s === '..' || s === '.' || s === '')) return 'must not contain "..", "." or empty segments';
  return undefined;
}

const port = z.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535');

const serverSchema = z.strictObject({
  interface: z.string().min(1).max(15, 'Linux interface names are at most 15 characters').optional(),
  address: z.ipv4('must be an IPv4 address such as 10.77.0.2').optional(),
  http_port: port.default(80),
  // HTTP listens on the serving address and loopback, plus these (or every address), so the dashboard, API and
  // metrics are not on every interface of a NAS that runs the container with network_mode: host.
  http_listen: z.union([z.literal('all', { message: 'must be all or a list of IPv4 addresses such as [10.77.0.2]' }), z.array(z.ipv4('must be an IPv4 address such as 10.77.0.2')).min(1, 'must list at least one address').max(16, 'at most 16 addresses')]).optional(),
  proxy_dhcp: z.boolean().default(true),
  // A short token can be guessed over the LAN; `openssl rand -hex 16` gives 32 characters.
  admin_token: z.string().min(16, 'at least 16 characters (e.g. `openssl rand -hex 16`)').max(256, 'at most 256 characters').regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces, as it travels in an Authorization header').optional(),
  history_clients: z.number().int('must be a whole number').min(1, 'must be 1-10000').max(10000, 'must be 1-10000').optional(),
  // DHCP relays whose giaddr ProxyDHCP answers; without the list, any relay with a unicast address.
  dhcp_relays: z
    .array(
      z.ipv4('must be an IPv4 address such as 10.77.5.1').refine((relay) => nonUnicastKind(relay) === undefined, 'must be a unicast address (not 0.x, loopback, multicast or broadcast)'),
    )
    .max(256, 'at most 256 relays')
    .optional(),
});

const menuSchema = z.strictObject({
  title: z.string().max(80, 'at most 80 characters').default('Network boot'),
  default: imageId.optional(),
  timeout: z.number().int('must be a whole number of seconds').min(0, 'must be 0 or more').max(3600, 'at most 3600 seconds').default(10),
});

const keymap = z.enum(IPXE_KEYMAPS, { message: `must be one of ${IPXE_KEYMAPS.join(' ')}` });

// Without a keymap, boot.ipxe selects none and the layout compiled into the build stays.
const ipxeSchema = z.strictObject({
  keymap: keymap.optional(),
});

const absolutePath = z.string().refine((p) => p.startsWith('/'), 'must be an absolute path');
const httpUrl = z.string().refine((u) => /^https?:\/\/[^\s/]+/i.test(u) && URL.canParse(u), 'must be an http:// or https:// URL');
const hexDigest = (algorithm: (typeof CHECKSUM_ALGORITHMS)[number]) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${CHECKSUM_HEX_DIGITS[algorithm]}}$`), `must be ${CHECKSUM_HEX_DIGITS[algorithm]} hexadecimal digits (a ${algorithm} digest)`);

// A size in bytes: a whole number, or a number with a binary unit, as people read sizes off `ls -lh`.
const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
const MAX_EXTRACTED_SIZE_MESSAGE = 'must be a size from 1 MiB to 1 TiB, such as 20 GiB (units B, KiB, MiB, GiB, TiB)';
const maxExtractedSize = z.union([z.number(), z.string()], { message: MAX_EXTRACTED_SIZE_MESSAGE }).transform((value, ctx) => {
  const match = typeof value === 'number' ? [String(value), String(value), 'B'] : /^(\d+(?:\.\d+)?) ?([KMGT]iB|B)$/.exec(value.trim());
  const bytes = match ? Math.floor(Number(match[1]) * (SIZE_UNITS[match[2]!] ?? Number.NaN)) : Number.NaN;
  if (!(bytes >= 1024 ** 2 && bytes <= 1024 ** 4)) {
    ctx.addIssue({ code: 'custom', message: MAX_EXTRACTED_SIZE_MESSAGE });
    return z.NEVER;
  }
  return bytes;
});

// How long between two checks for new releases: a whole number and a unit, from one minute to a year.
const DURATION_UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const CHECK_EVERY_MESSAGE = 'must be a duration from 1m to 365d, such as 24h, 30m or 7d (units m, h, d)';
const checkEvery = z.string({ message: CHECK_EVERY_MESSAGE }).transform((value, ctx) => {
  const match = /^(\d{1,6})([mhd])$/.exec(value.trim());
  const ms = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : Number.NaN;
  if (!(ms >= 60_000 && ms <= 365 * 86_400_000)) {
    ctx.addIssue({ code: 'custom', message: CHECK_EVERY_MESSAGE });
    return z.NEVER;
  }
  return ms;
});

const ingestMode = z.enum(['auto', 'manual'], { message: 'must be auto or manual' });

// What `serve` ingests by itself: images not ready or changed, and new releases every check_every.
const ingestSchema = z.strictObject({
  mode: ingestMode.optional(),
  check_every: checkEvery.optional(),
  keep_versions: z.number().int('must be a whole number').min(0, 'must be 0-10').max(10, 'must be 0-10').optional(),
});

// Where an image's files come from: a folder the user fills (dir), or an archive that
// `bootstation ingest` downloads (url) or reads (path), checked against one checksum.
const sourceSchema = z
  .strictObject({
    dir: absolutePath.optional(),
    url: httpUrl.optional(),
    path: absolutePath.optional(),
    sha256: hexDigest('sha256').optional(),
    sha512: hexDigest('sha512').optional(),
    md5: hexDigest('md5').optional(),
    checksums: httpUrl.optional(),
    insecure: z.boolean().optional(),
    fetch: z.enum(['all', 'files'], { message: 'must be all or files' }).optional(),
    max_extracted_size: maxExtractedSize.optional(),
  })
  .superRefine((source, ctx) => {
    const kinds = (['dir', 'url', 'path'] as const).filter((key) => source[key] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: kinds.length === 0 ? 'needs one of dir, url or path' : `takes one of dir, url or path, not ${kinds.join(' and ')}` });
      return;
    }
    const checksums = (['sha256', 'sha512', 'md5', 'checksums'] as const).filter((key) => source[key] !== undefined);
    if (source.dir !== undefined) {
      for (const key of [...checksums, ...(['insecure', 'fetch', 'max_extracted_size'] as const).filter((k) => source[k] !== undefined)]) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'only applies to url and path sources' });
      }
      return;
    }
    if (checksums.length > 1) ctx.addIssue({ code: 'custom', path: [checksums[1]!], message: `give one checksum, not ${checksums.join(' and ')}` });
    if (source.path !== undefined && source.fetch !== undefined) ctx.addIssue({ code: 'custom', path: ['fetch'], message: 'only applies to url sources' });
    if (source.url !== undefined && checksums.length === 0 && source.insecure !== true) {
      ctx.addIssue({ code: 'custom', message: 'a download needs sha256, sha512, md5 or checksums (or insecure: true to accept it unchecked)' });
    }
  });

const bootSpecKeys = {
  kernel: relativeFile.optional(),
  initrd: z.array(relativeFile).max(16, 'at most 16 initrds').optional(),
  args: z.string().max(2048, 'at most 2048 characters').optional(),
  firmware: z.array(z.enum(FIRMWARE_FAMILIES, { message: 'must be bios or efi' })).min(1, 'must list bios, efi or both').optional(),
  // Replaces what the kernel file's header says, for a kernel the header reader cannot place.
  arch: z.enum(CPU_ARCHITECTURES, { message: `must be one of ${CPU_ARCHITECTURES.join(' ')}` }).optional(),
};

// boot: one mapping, or a list of them (one per architecture, as Debian's netboot has amd64, i386 and arm64
// trees), of which a client boots the first it can run; each item names its own kernel.
const bootSchema = z.union(
  [
    z.strictObject(bootSpecKeys),
    z
      .array(z.strictObject({ ...bootSpecKeys, kernel: relativeFile }))
      .min(1, 'must list at least one boot spec')
      .max(8, 'at most 8 boot specs'),
  ],
  { error: 'must be a mapping (kernel, initrd, args, firmware, arch) or a list of them' },
);

// An extract pattern: like a relative file, with * (within a segment), ** (across segments) and ?.
const extractGlob = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'at most 255 characters')
  .superRefine((glob, ctx) => {
    const problem = relativeFileProblem(glob.replaceAll('**', 'x').replaceAll('*', 'x').replaceAll('?', 'x'));
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

// A chain image's URL goes into the menu script as one word: no whitespace or control characters, which the
// URL parser would otherwise drop silently.
const chainUrl = httpUrl.refine((u) => u.length <= 2048 && !/[\u0000-\u0020\u007f]/.test(u), 'must be one http:// or https:// URL of at most 2048 characters, without spaces');

// The keys a chain image cannot have: it is a menu item that runs another iPXE script, with no files.
const NOT_WITH_CHAIN = ['source', 'recipe', 'version', 'extract', 'boot', 'ingest'] as const;

const imageSchema = z
  .strictObject({
    id: imageId,
    label: z.string().min(1, 'must not be empty').max(80, 'at most 80 characters').optional(),
    chain: chainUrl.optional(),
    recipe: z.enum(RECIPE_NAMES, { message: `must be one of ${RECIPE_NAMES.join(' ')}` }).optional(),
    version: z.string().min(1, 'must not be empty').max(40, 'at most 40 characters').optional(),
    source: sourceSchema.optional(),
    extract: z.array(extractGlob).max(64, 'at most 64 patterns').optional(),
    boot: bootSchema.optional(),
    ingest: ingestMode.optional(),
    // A recipe that finds its releases: the site's base URL to use instead of the recipe's (a local mirror).
    mirror: httpUrl.optional(),
    // A Debian-style recipe: the OpenPGP keyring its Release must be signed with (a mirror signed by the site's own key).
    keyring: absolutePath.optional(),
  })
  .superRefine(
    (parsed, ctx) => {
      // Runs even when other keys of the image are wrong, so read defensively.
      if (typeof parsed !== 'object' || parsed === null) return;
      const image = parsed as { chain?: unknown; recipe?: unknown; boot?: { kernel?: unknown } | null; extract?: unknown; ingest?: unknown; source?: { dir?: unknown } | null };
      if (image.chain !== undefined) {
        for (const key of NOT_WITH_CHAIN.filter((k) => (image as Record<string, unknown>)[k] !== undefined)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'does not apply to a chain image (it runs another iPXE script and has no files)' });
        }
        return;
      }
      const releases = typeof image.recipe === 'string' ? (RECIPES as Record<string, Recipe>)[image.recipe]?.releases : undefined;
      const findsRelease = image.source === undefined && releases !== undefined && (image as { version?: unknown }).version !== undefined;
      if (image.source === undefined && !findsRelease) {
        const why = releases ? `or version: to let recipe ${String(image.recipe)} find the release` : `or recipe: and version: with a recipe that finds releases: ${recipesWithReleases().join(' ')}`;
        ctx.addIssue({ code: 'custom', path: ['source'], message: `required (${why}; or chain: URL for a menu item that runs another iPXE script)` });
      }
      for (const key of (['mirror', 'keyring'] as const).filter((k) => (image as Record<string, unknown>)[k] !== undefined)) {
        if (!findsRelease) ctx.addIssue({ code: 'custom', path: [key], message: 'only applies to an image whose recipe finds its release (recipe: and version: without source:)' });
        else if (key === 'keyring' && !isSigned(releases?.kind)) ctx.addIssue({ code: 'custom', path: [key], message: `only applies to recipes with signed releases (${recipesWithReleases().filter((n) => isSigned((RECIPES as Record<string, Recipe>)[n]!.releases!.kind)).join(' ')})` });
      }
      // Without a recipe, the kernel is the one thing an image cannot do without.
      // (The list form's items each require their own kernel; a scalar is refused by the union's message.)
      const bootMapping = typeof image.boot === 'object' && image.boot !== null && !Array.isArray(image.boot);
      if (image.recipe === undefined && (image.boot == null || (bootMapping && image.boot.kernel === undefined))) {
        ctx.addIssue({ code: 'custom', path: image.boot ? ['boot', 'kernel'] : ['boot'], message: 'required' });
      }
      for (const key of (['extract', 'ingest'] as const).filter((k) => image[k] !== undefined && image.source?.dir !== undefined)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'only applies to url and path sources' });
      }
    },
    { when: () => true },
  );

const HOST_FORMS = 'must be an image id, or a mapping with image and/or keymap';

// A machine's entry in hosts: the short form is the image it always boots; the long form may add its
// keyboard layout, or give only the layout (that machine still gets the menu).
const hostSchema = z.union(
  [
    imageId,
    z
      .strictObject({ image: imageId.optional(), keymap: keymap.optional() })
      .refine((host) => host.image !== undefined || host.keymap !== undefined, 'give image, keymap or both'),
  ],
  { error: HOST_FORMS },
);

/** The whole images.yaml: snake_case keys, unknown keys rejected. */
export const imagesYamlSchema = z
  .strictObject({
    server: serverSchema.default({ http_port: 80, proxy_dhcp: true }),
    menu: menuSchema.default({ title: 'Network boot', timeout: 10 }),
    ipxe: ipxeSchema.default({}),
    ingest: ingestSchema.optional(),
    // Base URLs of local mirrors, by download site (debian, alpine, archlinux) or recipe name.
    mirrors: z
      .record(z.string().refine((key) => releaseSites().includes(key) || recipesWithReleases().includes(key), { message: `must be a site (${releaseSites().join(' ')}) or a recipe that finds releases (${recipesWithReleases().join(' ')})` }), httpUrl)
      .optional(),
    images: z.array(imageSchema).default([]),
    hosts: z.record(z.string().regex(MAC_ADDRESS, 'must be a MAC address such as 52:54:00:12:34:56'), hostSchema).default({}),
  })
  // Cross-references run even when other parts of the file are wrong, so one run reports every
  // problem; the input may then be malformed, hence the defensive reads.
  .superRefine(
    (parsed, ctx) => {
      // With `when`, this also runs on input that failed elsewhere: read it as unknown.
      const file = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Partial<Record<keyof typeof parsed, unknown>>;
      const images = Array.isArray(file.images) ? file.images : [];
      const seen = new Set<string>();
      images.forEach((image, index) => {
        const id = (image as { id?: unknown } | null)?.id;
        if (typeof id !== 'string') return;
        if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['images', index, 'id'], message: `duplicate image id "${id}"` });
        seen.add(id);
      });
      const menuDefault = (file.menu as { default?: unknown } | null | undefined)?.default;
      if (typeof menuDefault === 'string' && !seen.has(menuDefault)) {
        ctx.addIssue({ code: 'custom', path: ['menu', 'default'], message: `no image has the id "${menuDefault}"` });
      }
      const hosts = typeof file.hosts === 'object' && file.hosts !== null ? file.hosts : {};
      for (const [mac, entry] of Object.entries(hosts)) {
        const short = typeof entry === 'string';
        const id = short ? entry : (entry as { image?: unknown } | null)?.image;
        if (typeof id === 'string' && !seen.has(id)) ctx.addIssue({ code: 'custom', path: short ? ['hosts', mac] : ['hosts', mac, 'image'], message: `no image has the id "${id}"` });
      }
    },
    { when: () => true },
  );

/** images.yaml exactly as validated (snake_case). */
export type ImagesYaml = z.output<typeof imagesYamlSchema>;
