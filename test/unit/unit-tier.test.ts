// Keeps `npm run test:unit` pure and fast: no test under test/unit starts a process, opens a socket or writes
// a temporary file (reading the repository's fixtures is fine). Such a test belongs in test/integration.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const UNIT_DIR = new URL('./', import.meta.url);

// What a file may not mention, with why: each is I/O beyond reading the checkout.
const IMPURE: ReadonlyArray<[RegExp, string]> = [
  [/from 'node:child_process'/, 'starts processes'],
  [/from 'node:(dgram|net|http|https|http2|tls)'/, 'opens sockets'],
  [/\.listen\(|fetch\(/, 'opens sockets'],
  [/\bmkdtemp|\btmpdir\(/, 'writes temporary files'],
  [/from '\.\.\/support\/(cli|http-fixture-server|tftp-test-client|dhcp-netns|docker-engine|ingest-archives|ipxe-stand-in-source)\.ts'/, 'uses a support module that starts processes, opens sockets or writes files'],
];

test('no unit test starts a process, opens a socket or writes a temporary file', () => {
  const offences = readdirSync(UNIT_DIR)
    .filter((name) => name.endsWith('.ts') && name !== 'unit-tier.test.ts')
    .flatMap((name) => {
      const text = readFileSync(new URL(name, UNIT_DIR), 'utf8').replace(/^(\/\/.*|\s*\/\/.*)$/gm, '');
      return IMPURE.filter(([pattern]) => pattern.test(text)).map(([, why]) => `test/unit/${name} ${why}: move it (or that test) to test/integration`);
    });
  assert.deepEqual(offences, []);
});
