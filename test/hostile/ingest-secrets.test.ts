// Issue 14, item 7 (ingest's part): a source URL may carry credentials (user:password@, ?token=). The
// manifest is served with the image, and ingest logs and errors reach the terminal, the dashboard and the
// failure record: none of them may show the secrets.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import got from 'got';
import { parseConfigText } from '../../src/config/parse.ts';
import { IngestError } from '../../src/ingest/ingest-error.ts';
import { ingestImage, type IngestContext } from '../../src/ingest/ingest-image.ts';
import { imageLayout } from '../../src/files/data-dir.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { buildStoredZip, buildTar } from '../support/ingest-archives.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';

const PASSWORD = 'pa55w0rd-d0-not-show';
const TOKEN = 't0ken-d0-not-show';
const SECRETS = [PASSWORD, TOKEN, 'alice'];

const root = await mkdtemp(join(tmpdir(), 'bootstation-hostile-secrets-'));
after(() => rm(root, { recursive: true, force: true }));
let counter = 0;

const TAR = await buildTar([{ name: 'boot/vmlinuz', content: 'kernel' }]);
const ZIP = buildStoredZip([{ name: 'boot/vmlinuz', content: 'kernel' }]);
const sha256 = createHash('sha256').update(TAR).digest('hex');
const server = await startHttpFixture((request, response) => {
  const path = new URL(request.url ?? '/', 'http://x').pathname;
  if (path === '/SHA256SUMS') return void response.end(`${sha256}  netboot.tar\n`);
  if (path === '/netboot.tar') return void sendBody(request, response, TAR);
  if (path === '/netboot.zip') return void sendBody(request, response, ZIP, { ranges: true });
  response.writeHead(404).end();
});
after(() => server.close());

/** The fixture's URL for `path`, with a user, a password and a token in it. */
const secretUrl = (path: string): string => server.url(path).replace('http://', `http://alice:${PASSWORD}@`) + `?token=${TOKEN}&mirror=1`;

function setup(source: string): { context: IngestContext; lines: string[]; dataDir: string; image: ReturnType<typeof parseConfigText>['images'][number] } {
  const dataDir = join(root, `data-${++counter}`);
  const lines: string[] = [];
  const text = `images:\n  - id: demo\n    source: ${source}\n    boot: {kernel: boot/vmlinuz}\n`;
  const image = parseConfigText(text, 'images.yaml', { dataDir }).images[0]!;
  return { dataDir, image, lines, context: { dataDir, http: got, info: (l) => lines.push(l), warn: (l) => lines.push(l), sleep: async () => {}, retries: 0 } };
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} shows ${secret}:\n${text}`);
}

describe('credentials in a source URL', () => {
  test('are in neither the served manifest nor the log lines of a checked download', async () => {
    const { image, context, lines, dataDir } = setup(`{url: "${secretUrl('/netboot.tar')}", checksums: "${secretUrl('/SHA256SUMS')}"}`);
    await ingestImage(image, context);
    const manifest = await readFile(join(dataDir, 'images', 'demo', '.manifest.json'), 'utf8');
    assertNoSecret(manifest, 'the manifest');
    assertNoSecret(lines.join('\n'), 'the log');
    const parsed = JSON.parse(manifest);
    assert.equal(parsed.fingerprint.source, `${server.url('/netboot.tar').replace('http://', 'http://***@')}?***`, 'the manifest names the source, redacted');
    assert.ok(lines.some((line) => line.startsWith('downloading http://***@127.0.0.1:')), lines.join('\n'));
    // Unchanged source: the redacted fingerprint still matches, so nothing is fetched again.
    assert.equal((await ingestImage(image, context)).status, 'up-to-date');
  });

  test('are not in the warning about an unchecked source, nor the Range-request lines of fetch: files', async () => {
    const { image, context, lines, dataDir } = setup(`{url: "${secretUrl('/netboot.zip')}", insecure: true, fetch: files}`);
    await ingestImage(image, context);
    assert.ok(lines.some((line) => /not verified \(insecure: true\)/.test(line)) && lines.some((line) => /with Range requests/.test(line)), lines.join('\n'));
    assertNoSecret(lines.join('\n'), 'the log');
    assertNoSecret(await readFile(join(dataDir, 'images', 'demo', '.manifest.json'), 'utf8'), 'the manifest');
  });

  test('are not in the error of a failed download, nor in the failure record `bootstation images` shows', async () => {
    for (const path of ['/gone.tar', '/SHA256SUMS']) {
      const source = path === '/gone.tar' ? `{url: "${secretUrl(path)}", sha256: ${sha256}}` : `{url: "${secretUrl('/netboot.tar')}", checksums: "${secretUrl('/missing-SUMS')}"}`;
      const { image, context, lines, dataDir } = setup(source);
      const error = await rejectionOf(ingestImage(image, context), IngestError);
      assert.match(error.message, /http:\/\/\*\*\*@127\.0\.0\.1:\d+\/\S+\?\*\*\*/, 'the error still names the URL, redacted');
      assertNoSecret(error.message, 'the error');
      assertNoSecret(lines.join('\n'), 'the log');
      assertNoSecret(await readFile(imageLayout(dataDir, 'demo').failureFile, 'utf8'), 'the failure record');
    }
  });
});
