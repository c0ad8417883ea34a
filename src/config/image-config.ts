// Turns one validated images.yaml image into the model's ImageConfig, with its recipe applied. Pure.
import { RECIPES, type Recipe } from './recipes.ts';
import { imageLayout } from '../files/data-dir.ts';
import { servedArchiveName } from './archive-name.ts';
import { bootSpecsOf, type BootSpec, type Checksum, type ImageConfig, type IngestSpec } from './model.ts';
import type { ImagesYaml } from './schema.ts';

type ImageYaml = ImagesYaml['images'][number];

/**
 * Turns one validated images.yaml entry into the image the server and ingest work with: the recipe's
 * boot files and extract patterns, overridden key by key by what the entry says itself. Ingested images
 * live in <dataDir>/images/<id>.
 */
export function toImageConfig(image: ImageYaml, dataDir: string, mirrors: Readonly<Record<string, string>> = {}): ImageConfig {
  if (image.chain !== undefined) {
    return { id: image.id, label: image.label ?? image.id, dir: imageLayout(dataDir, image.id).link, kernel: '', initrds: [], args: '', chain: image.chain };
  }
  const recipe: Recipe | undefined = image.recipe === undefined ? undefined : RECIPES[image.recipe];
  const [boot, ...moreBoots] = Array.isArray(image.boot) ? image.boot.map(listedSpec) : mappedSpecs(image.boot, recipe);
  const firmware = Array.isArray(image.boot) ? undefined : image.boot?.firmware;
  const config: ImageConfig = {
    id: image.id,
    label: image.label ?? (image.version ? `${image.id} ${image.version}` : image.id),
    dir: image.source?.dir ?? imageLayout(dataDir, image.id).link,
    // The schema guarantees a kernel when there is no recipe, and one spec at least in a list.
    ...boot!,
    ...(firmware ? { firmware } : {}),
    ...(moreBoots.length > 0 ? { moreBoots } : {}),
  };
  const ingest = ingestSpec(image, recipe, bootSpecsOf(config), mirrors);
  return ingest ? { ...config, ingest } : config;
}

type BootYaml = NonNullable<ImageYaml['boot']>;

// The mapping form: the entry's keys over the recipe's. A recipe's specs (memtest86+'s .bin for BIOS, .efi for UEFI)
// only apply while the entry does not name its own kernel, which then takes the first spec's initrds and args; the
// entry's own args replace every spec's (memtest's console=ttyS0 on both firmware).
function mappedSpecs(boot: Exclude<BootYaml, readonly unknown[]> | undefined, recipe: Recipe | undefined): BootSpec[] {
  const own = (base: BootSpec | undefined): BootSpec => ({
    kernel: boot?.kernel ?? base?.kernel ?? '',
    initrds: boot?.initrd ?? base?.initrds ?? [],
    args: boot?.args ?? base?.args ?? '',
    ...(base?.archiveInitrdAt && boot?.kernel === undefined ? { archiveInitrdAt: base.archiveInitrdAt } : {}),
    ...(boot?.arch ? { arch: boot.arch } : {}),
  });
  if (boot?.kernel !== undefined || !recipe) return [own(recipe?.boot[0])];
  return recipe.boot.map((spec) => ({ ...own(spec), ...(spec.families ? { families: spec.families } : {}) }));
}

// One item of the list form: nothing comes from a recipe.
function listedSpec(item: Extract<BootYaml, readonly unknown[]>[number]): BootSpec {
  return {
    kernel: item.kernel,
    initrds: item.initrd ?? [],
    args: item.args ?? '',
    ...(item.arch ? { arch: item.arch } : {}),
    ...(item.firmware ? { families: item.firmware } : {}),
  };
}

function ingestSpec(image: ImageYaml, recipe: Recipe | undefined, boots: readonly BootSpec[], mirrors: Readonly<Record<string, string>>): IngestSpec | undefined {
  const { source } = image;
  if (!source) return releaseSpec(image, recipe, boots, mirrors);
  const from: IngestSpec['from'] | undefined =
    source.url !== undefined
      ? { kind: 'url', url: source.url, fetch: source.fetch ?? 'all' }
      : source.path !== undefined
        ? { kind: 'path', path: source.path }
        : undefined;
  if (!from) return undefined;
  const bootFiles = boots.flatMap((spec) => [spec.kernel, ...spec.initrds]);
  const extract = [...new Set([...bootFiles, ...(recipe?.extract ?? []), ...(image.extract ?? [])])];
  const wantsArchive =
    recipe?.keepArchive === true || boots.some((spec) => spec.args.includes('${iso-url}') || spec.archiveInitrdAt !== undefined);
  const spec: IngestSpec = { from, insecure: source.insecure === true, extract };
  const checksum = checksumOf(source);
  if (checksum) spec.checksum = checksum;
  if (wantsArchive) spec.keepArchiveAs = servedArchiveName(from);
  if (recipe?.renames) spec.renames = recipe.renames;
  if (source.max_extracted_size !== undefined) spec.maxExtractedBytes = source.max_extracted_size;
  if (image.recipe) spec.recipe = image.recipe;
  if (image.version) spec.version = image.version;
  if (image.ingest) spec.mode = image.ingest;
  return spec;
}

// recipe: and version: without source: the recipe's site (or a mirror of it) is asked for the release at ingest.
function releaseSpec(image: ImageYaml, recipe: Recipe | undefined, boots: readonly BootSpec[], mirrors: Readonly<Record<string, string>>): IngestSpec | undefined {
  if (!recipe?.releases || image.recipe === undefined || image.version === undefined) return undefined;
  const base = image.mirror ?? mirrors[image.recipe] ?? mirrors[recipe.releases.site] ?? recipe.releases.mirror;
  const mirror = base.endsWith('/') ? base : `${base}/`;
  const bootFiles = boots.flatMap((spec) => [spec.kernel, ...spec.initrds]);
  return {
    from: { kind: 'url', url: mirror, fetch: 'all' },
    insecure: false,
    extract: [...new Set([...bootFiles, ...recipe.extract, ...(image.extract ?? [])])],
    ...(recipe.renames ? { renames: recipe.renames } : {}),
    recipe: image.recipe,
    version: image.version,
    release: { recipe: image.recipe, version: image.version, mirror, ...(image.keyring ? { keyring: image.keyring } : {}) },
    ...(image.ingest ? { mode: image.ingest } : {}),
  };
}

function checksumOf(source: NonNullable<ImageYaml['source']>): Checksum | undefined {
  if (source.sha256) return { algorithm: 'sha256', value: source.sha256.toLowerCase() };
  if (source.sha512) return { algorithm: 'sha512', value: source.sha512.toLowerCase() };
  if (source.md5) return { algorithm: 'md5', value: source.md5.toLowerCase() };
  if (source.checksums) return { listUrl: source.checksums };
  return undefined;
}

