// The located problems a rejected images.yaml text is reported with, for tests of the configuration's rules.
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../src/config/parse.ts';

/** The lines of the ConfigError that `text` (as images.yaml) is rejected with; fails the test when it is accepted. */
export function configProblems(text: string): string[] {
  try {
    parseConfigText(text, 'images.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message.split('\n');
  }
  assert.fail(`expected images.yaml to be rejected:\n${text}`);
}
