// Parses and validates images.yaml text into the model, with every problem located by file:line:column.
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { normalizeMacAddress } from '../text/mac-address.ts';
import type { BootstationConfig, HostConfig, IngestSettings } from './model.ts';
import { toImageConfig } from './image-config.ts';
import { imagesYamlSchema, type ImagesYaml } from './schema.ts';

/** One problem in a configuration file, located by line and column (both 1-based). */
export interface ConfigProblem {
  line: number;
  column: number;
  /** Dotted path of the offending key, e.g. images[2].boot.kernel; empty for the whole file. */
  path: string;
  message: string;
}

/** A configuration file that cannot be used; its message lists every problem as file:line:column: path: message. */
export class ConfigError extends Error {
  readonly code = 'BOOTSTATION_CONFIG_INVALID';
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** Formats one problem the way compilers do, so editors and terminals can jump to it. */
export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = `${file}:${problem.line}:${problem.column}`;
  return problem.path ? `${where}: ${problem.path}: ${problem.message}` : `${where}: ${problem.message}`;
}

/** The data directory when the caller names none, as the CLI's default. */
export const DEFAULT_DATA_DIR = 'data';

/** Parses and validates images.yaml text; throws ConfigError with every located problem. */
export function parseConfigText(text: string, file: string, options: { dataDir?: string } = {}): BootstationConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        ...at(e.pos[0]),
        path: '',
        message: e.code === 'MULTIPLE_DOCS' ? 'holds more than one YAML document; remove the "---" separator' : yamlMessage(e.message),
      })),
    );
  }
  const result = imagesYamlSchema.safeParse(doc.toJS() ?? {}, { reportInput: true });
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => locateIssue(doc, issue, at));
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(file, problems);
  }
  return toConfig(result.data, options.dataDir ?? DEFAULT_DATA_DIR);
}

// The yaml library's messages end with a source excerpt and position that we print ourselves.
function yamlMessage(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

type Issue = z.core.$ZodIssue;
type Position = (offset: number) => { line: number; column: number };

// Turns one schema issue into problems located at the key it is about. A missing key is reported
// at the map that should hold it, an unknown key at that key, anything else at the value.
function locateIssue(doc: Document, issue: Issue, at: Position): ConfigProblem[] {
  const branch = unionBranchIssues(issue);
  if (branch) return branch.flatMap((inner) => locateIssue(doc, inner, at));
  const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const parent = nodeAt(doc, path);
    return issue.keys.map((key) => {
      const keyNode = isMap(parent) ? parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key)?.key : undefined;
      return {
        ...at(rangeStart(keyNode as Node | undefined) ?? rangeStart(parent) ?? 0),
        path: formatPath([...path, key]),
        message: 'unknown key',
      };
    });
  }
  const missing = issue.code === 'invalid_type' && issue.input === undefined;
  const offset = missing ? rangeStart(nodeAt(doc, path.slice(0, -1))) : rangeStart(hostKeyNode(doc, issue, path) ?? nodeAt(doc, path));
  return [{ ...at(offset ?? 0), path: formatPath(path), message: missing ? 'required' : issueMessage(issue) }];
}

// A value that matches no alternative of a union (a host as an image id or as a mapping) is reported from
// the alternative its type fits, so the user reads that one's message at its own key; when it fits none,
// the union's own message says which forms there are.
function unionBranchIssues(issue: Issue): Issue[] | undefined {
  if (issue.code !== 'invalid_union') return undefined;
  const fitting = issue.errors.find((issues) => !issues.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
  return fitting?.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
}

// A malformed MAC in hosts is reported at the MAC itself (the key); an unknown image at the value.
function hostKeyNode(doc: Document, issue: Issue, path: readonly (string | number)[]): Node | undefined {
  if (issue.code !== 'invalid_key' || path[0] !== 'hosts' || path.length !== 2) return undefined;
  const hosts = nodeAt(doc, ['hosts']);
  if (!isMap(hosts)) return undefined;
  const pair = hosts.items.find((p) => isScalar(p.key) && String(p.key.value) === path[1]);
  return isScalar(pair?.key) ? pair.key : undefined;
}

function nodeAt(doc: Document, path: readonly (string | number)[]): Node | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = path.length === 0 || depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (node && typeof node === 'object' && 'range' in node) return node as Node;
  }
  return undefined;
}

function rangeStart(node: Node | undefined | null): number | undefined {
  return node?.range?.[0];
}

function issueMessage(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (!issue.message.startsWith('Invalid')) return issue.message;
      // YAML reads unquoted digits, true/false and dates as other types: a digest of digits is a number.
      const quote = issue.expected === 'string' && ['number', 'boolean', 'object'].includes(typeof issue.input) ? ' (put it in quotes)' : '';
      return `must be ${article(issue.expected)}${quote}`;
    }
    case 'invalid_value':
      return issue.message.startsWith('Invalid') ? `must be one of ${issue.values.map(String).join(', ')}` : issue.message;
    case 'invalid_format':
      return issue.message.startsWith('Invalid') ? `not a valid ${issue.format}` : issue.message;
    case 'invalid_key':
      return issue.issues[0]?.message ?? issue.message;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  const noun = expected === 'array' ? 'list' : expected === 'object' || expected === 'record' ? 'mapping' : expected;
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** Formats a key path the way users read it: images[2].boot.kernel. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((out, segment) => {
    if (typeof segment === 'number') return `${out}[${segment}]`;
    return /^[a-z_][a-z0-9_]*$/i.test(segment) ? (out ? `${out}.${segment}` : segment) : `${out}["${segment}"]`;
  }, '');
}

function toConfig(file: ImagesYaml, dataDir: string): BootstationConfig {
  return {
    server: {
      interface: file.server.interface,
      address: file.server.address,
      httpPort: file.server.http_port,
      proxyDhcp: file.server.proxy_dhcp,
      // Only keys that are set: a config without them equals one written before they existed.
      ...(file.server.admin_token === undefined ? {} : { adminToken: file.server.admin_token }),
      ...(file.server.history_clients === undefined ? {} : { historyClients: file.server.history_clients }),
      ...(file.server.http_listen === undefined ? {} : { httpListen: file.server.http_listen }),
      ...(file.server.dhcp_relays === undefined ? {} : { dhcpRelays: file.server.dhcp_relays }),
    },
    menu: { title: file.menu.title, defaultImage: file.menu.default, timeoutSeconds: file.menu.timeout },
    ipxe: file.ipxe.keymap === undefined ? {} : { keymap: file.ipxe.keymap },
    ...(file.ingest === undefined ? {} : { ingest: ingestSettings(file.ingest) }),
    images: file.images.map((image) => toImageConfig(image, dataDir, file.mirrors)),
    hosts: new Map(Object.entries(file.hosts).map(([mac, entry]) => [normalizeMacAddress(mac), toHostConfig(entry)])),
  };
}

// Only the keys that are set; ingestSettingsOf fills in the defaults.
function ingestSettings(section: NonNullable<ImagesYaml['ingest']>): Partial<IngestSettings> {
  return {
    ...(section.mode === undefined ? {} : { mode: section.mode }),
    ...(section.check_every === undefined ? {} : { checkEveryMs: section.check_every }),
    ...(section.keep_versions === undefined ? {} : { keepVersions: section.keep_versions }),
  };
}

// Only the keys that are set, so both forms of one host give equal values.
function toHostConfig(entry: ImagesYaml['hosts'][string]): HostConfig {
  if (typeof entry === 'string') return { image: entry };
  return { ...(entry.image === undefined ? {} : { image: entry.image }), ...(entry.keymap === undefined ? {} : { keymap: entry.keymap }) };
}
