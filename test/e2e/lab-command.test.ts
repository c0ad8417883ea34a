// `bootstation lab` as a user runs it: without --config it boots the lab image on BIOS, streams the
// serial console to stdout, exits 0 once the test initrd fetched its file, and leaves no namespace behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { labSkipReason } from '../../tools/lab/preflight.ts';
import { runCli } from '../support/cli.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const skipReason = skipOrFail('lab-command', await labSkipReason());

describe('bootstation lab', { skip: skipReason }, () => {
  it('boots the lab image on BIOS, streams the console and cleans up', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runCli(['lab', '--firmware', 'bios'], { BOOTSTATION_CONFIG: undefined });
    assert.equal(code, 0, `bootstation lab failed:\n${stderr}\n--- console, last 2000 characters\n${stdout.slice(-2000)}`);
    assert.match(stdout, /SeaBIOS/, 'the firmware console is streamed');
    assert.match(stdout, /BOOTSTATION-LAB netboot: ok sha256=[0-9a-f]{64} url=http:\/\/10\.77\.0\.2\/images\/lab-marker\/payload\.bin/);
    assert.match(stderr, /the lab image booted in \d+ s and fetched its file with a matching checksum/);
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /^bslab-/m, 'the lab namespaces are removed');
  });
});
