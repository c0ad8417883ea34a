// data/ipxe/manifest.json, the iPXE build manifest: the binaries beside it are bootstation's own build, and how
// they were made. Pure. (An ingested image's .manifest.json is another file: src/ingest/manifest.ts.)
import { parseJsonObject } from '../files/json-object.ts';
import { BIOS_LEFT_OUT, IPXE_FEATURES } from './overlay.ts';
import { IPXE_TARGET_NAMES, type IpxeTargetName } from './targets.ts';

/** The file next to the binaries that says they are bootstation's own build and how they were made. */
export const IPXE_BUILD_MANIFEST_FILE = 'manifest.json';

/** What `builder` says in a manifest written by bootstation; ProxyDHCP trusts binaries only with it. */
export const MANIFEST_BUILDER = 'bootstation';

/** One served binary of a build. */
export interface ManifestOutput {
  target: IpxeTargetName;
  file: string;
  sha256: string;
  /** Digest of everything that went into this target's make run; an unchanged one is not rebuilt. */
  inputs: string;
}

/** data/ipxe/manifest.json. */
export interface IpxeBuildManifest {
  builder: typeof MANIFEST_BUILDER;
  version: string;
  commit: string | null;
  keymap: string;
  httpPort: number;
  features: { enabled: string[]; leftOutOfBios: string[] };
  targets: IpxeTargetName[];
  outputs: ManifestOutput[];
  /** Digest of source, overlay and embedded script: outputs with the same identity belong to one build. */
  identity: string;
  builtAt: string;
}

/** What scripts/build-ipxe.sh reports through --record: the source and every output, built or reused. */
export interface BuildRecord {
  version: string;
  commit: string | null;
  identity: string;
  outputs: Array<ManifestOutput & { status: 'built' | 'reused' }>;
}

/** A build record that does not have the shape scripts/build-ipxe.sh writes. */
export class BuildRecordError extends Error {
  readonly code = 'BOOTSTATION_IPXE_RECORD';
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Parses the tab-separated record scripts/build-ipxe.sh writes with --record. */
export function parseBuildRecord(text: string): BuildRecord {
  let source: Omit<BuildRecord, 'outputs'> | undefined;
  const outputs: BuildRecord['outputs'] = [];
  text.split('\n').forEach((line, index) => {
    if (line === '') return;
    const fields = line.split('\t');
    const bad = (why: string): BuildRecordError => new BuildRecordError(`build record line ${index + 1} ${why}; it must come from scripts/build-ipxe.sh --record`);
    if (fields[0] === 'source' && fields.length === 4) {
      const [, version = '', commit = '', identity = ''] = fields;
      if (!SHA256.test(identity)) throw bad('has no SHA-256 identity');
      source = { version, commit: commit === '-' ? null : commit, identity };
    } else if (fields[0] === 'output' && fields.length === 6) {
      const [, target = '', file = '', sha256 = '', inputs = '', status = ''] = fields;
      const knownTarget = IPXE_TARGET_NAMES.find((name) => name === target);
      if (!knownTarget) throw bad(`names the unknown target "${target.slice(0, 20)}"`);
      if (!SHA256.test(sha256) || !SHA256.test(inputs)) throw bad('has no SHA-256 digests');
      if (status !== 'built' && status !== 'reused') throw bad(`has the status "${status.slice(0, 20)}" instead of built or reused`);
      outputs.push({ target: knownTarget, file, sha256, inputs, status });
    } else {
      throw bad('is neither a source nor an output line');
    }
  });
  if (!source) throw new BuildRecordError('build record has no source line; it must come from scripts/build-ipxe.sh --record');
  return { ...source, outputs };
}

/** Builds the manifest for a finished build, keeping outputs of an earlier build of the same identity. */
export function createIpxeBuildManifest(options: { record: BuildRecord; keymap: string; httpPort: number; builtAt: Date; previous?: IpxeBuildManifest }): IpxeBuildManifest {
  const { record, previous } = options;
  const outputs: ManifestOutput[] = record.outputs.map(({ target, file, sha256, inputs }) => ({ target, file, sha256, inputs }));
  for (const earlier of carriedOver(previous, record)) outputs.push(earlier);
  const targets = IPXE_TARGET_NAMES.filter((name) => outputs.some((output) => output.target === name));
  return {
    builder: MANIFEST_BUILDER,
    version: record.version,
    commit: record.commit,
    keymap: options.keymap,
    httpPort: options.httpPort,
    features: { enabled: IPXE_FEATURES.map((feature) => feature.name), leftOutOfBios: BIOS_LEFT_OUT.map((feature) => feature.name) },
    targets,
    outputs: outputs.sort((a, b) => IPXE_TARGET_NAMES.indexOf(a.target) - IPXE_TARGET_NAMES.indexOf(b.target)),
    identity: record.identity,
    builtAt: options.builtAt.toISOString(),
  };
}

/**
 * Files of an earlier build for targets this build did not touch: kept when they came from the same source,
 * overlay (keymap) and embedded script, else they would boot with another keymap or port and must go.
 */
export function staleOutputs(previous: IpxeBuildManifest | undefined, record: BuildRecord): string[] {
  if (!previous) return [];
  const built = new Set(record.outputs.map((output) => output.file));
  const kept = new Set(carriedOver(previous, record).map((output) => output.file));
  return previous.outputs.map((output) => output.file).filter((file) => !built.has(file) && !kept.has(file));
}

function carriedOver(previous: IpxeBuildManifest | undefined, record: BuildRecord): ManifestOutput[] {
  if (!previous || previous.identity !== record.identity) return [];
  const builtTargets = new Set(record.outputs.map((output) => output.target));
  return previous.outputs.filter((output) => !builtTargets.has(output.target));
}

/** The manifest as written to disk. */
export function renderIpxeBuildManifest(manifest: IpxeBuildManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Reads a manifest bootstation wrote; anything else (missing fields, another builder, bad JSON) is undefined. */
export function parseIpxeBuildManifest(text: string): IpxeBuildManifest | undefined {
  const manifest = parseJsonObject(text) as Partial<IpxeBuildManifest> | undefined;
  if (manifest === undefined) return undefined;
  if (manifest.builder !== MANIFEST_BUILDER || typeof manifest.identity !== 'string' || !Array.isArray(manifest.outputs)) return undefined;
  const outputsValid = manifest.outputs.every(
    (output: Partial<ManifestOutput>) =>
      typeof output.file === 'string' && typeof output.sha256 === 'string' && typeof output.inputs === 'string' && IPXE_TARGET_NAMES.some((name) => name === output.target),
  );
  return outputsValid ? (manifest as IpxeBuildManifest) : undefined;
}

/** The --reuse record for scripts/build-ipxe.sh: the outputs a manifest lists, in the script's record format. */
export function reuseRecord(manifest: IpxeBuildManifest): string {
  return manifest.outputs.map((output) => ['output', output.target, output.file, output.sha256, output.inputs, 'built'].join('\t')).join('\n') + '\n';
}
