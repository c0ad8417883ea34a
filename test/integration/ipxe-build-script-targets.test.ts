// scripts/build-ipxe.sh takes its targets from the platform table as --target arguments (src/ipxe/targets.ts):
// run with bash, it refuses a malformed one and a --targets name none defines before it builds anything.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { BUILD_SCRIPT } from '../../src/ipxe/build.ts';
import { buildScriptTargetArgs } from '../../src/ipxe/targets.ts';

test('scripts/build-ipxe.sh refuses a malformed --target and a --targets name no --target defines', async () => {
  const run = (args: string[]) => promisify(execFile)('bash', [BUILD_SCRIPT, ...args]).then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error);
  const malformed = await run(['--target', 'bios:z80:bin/undionly.kpxe=undionly.kpxe', '--packages']);
  assert.equal(malformed.code, 1);
  assert.match(malformed.stderr, /--target "bios:z80:bin\/undionly\.kpxe=undionly\.kpxe" is not NAME:CPU:GOAL=FILE/);
  const unknown = await run([...buildScriptTargetArgs(['bios']), '--packages', '--targets', 'bios,efi64']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /--targets names "efi64", which is not a target; use a comma-separated list of bios$/m);
  const none = await run(['--packages']);
  assert.equal(none.code, 2, 'without any --target the script prints its usage');
});
