import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/parse.ts';
import { DEFAULT_MAX_EXTRACTED_BYTES, ExtractBudget } from '../../src/ingest/extract-budget.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';

function capOf(source: string): number | undefined {
  const text = `images:\n  - id: demo\n    source: ${source}\n    boot: {kernel: vmlinuz}\n`;
  return parseConfigText(text, 'images.yaml', { dataDir: '/data' }).images[0]!.ingest?.maxExtractedBytes;
}

function problem(source: string): string {
  try {
    capOf(source);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail(`expected a ConfigError for ${source}`);
}

describe('source.max_extracted_size', () => {
  test('takes bytes or a size with a binary unit; absent leaves the default', () => {
    assert.equal(capOf('{path: /a.tar, max_extracted_size: 20 GiB}'), 20 * 1024 ** 3);
    assert.equal(capOf('{path: /a.tar, max_extracted_size: 512MiB}'), 512 * 1024 ** 2);
    assert.equal(capOf('{path: /a.tar, max_extracted_size: 1.5 GiB}'), 1.5 * 1024 ** 3);
    assert.equal(capOf('{path: /a.tar, max_extracted_size: 1073741824}'), 1024 ** 3);
    assert.equal(capOf('{path: /a.tar}'), undefined);
    assert.equal(DEFAULT_MAX_EXTRACTED_BYTES, 16 * 1024 ** 3);
  });

  test('anything else is one located error with the accepted form', () => {
    const message = 'images.yaml:3:48: images[0].source.max_extracted_size: must be a size from 1 MiB to 1 TiB, such as 20 GiB (units B, KiB, MiB, GiB, TiB)';
    for (const value of ['10 GB', 'lots', 'true', '1 KiB', '2 TiB', '-5']) assert.equal(problem(`{path: /a.tar, max_extracted_size: ${value}}`), message, value);
    assert.match(problem('{dir: /srv/x, max_extracted_size: 1 GiB}'), /images\[0\]\.source\.max_extracted_size: only applies to url and path sources$/);
  });
});

describe('extract budget', () => {
  const refusal = (run: () => void): IngestError => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof IngestError && error.code === IngestErrorCode.TooLarge, String(error));
      return error;
    }
    assert.fail('expected TooLarge');
  };

  test('a declared total over the cap is refused at once, naming archive, total, cap and setting', () => {
    const error = refusal(() => new ExtractBudget(1024 ** 3, 'bomb.zip').declareTotal(2 * 1024 ** 3));
    assert.equal(error.message, 'bomb.zip declares 2.00 GiB of files to extract, over the 1.00 GiB cap of source.max_extracted_size; nothing was installed — raise max_extracted_size in images.yaml if the image really is that big, or check the source');
  });

  test('file sizes declared one by one are refused at the one that passes the cap', () => {
    const budget = new ExtractBudget(10 * 1024 ** 2, 'bomb.tar.gz');
    for (let i = 0; i < 5; i++) budget.declare(2 * 1024 ** 2);
    assert.match(refusal(() => budget.declare(1)).message, /^bomb\.tar\.gz declares at least 10\.0 MiB of files to extract, over the 10\.0 MiB cap/);
  });

  test('bytes written beyond what was declared are refused at the cap', () => {
    const budget = new ExtractBudget(1024 ** 2, 'liar.tar');
    budget.declare(1);
    budget.written(1024 ** 2);
    assert.match(refusal(() => budget.written(1)).message, /^liar\.tar wrote 1\.00 MiB, more than its files declare, over the 1\.00 MiB cap/);
    assert.deepEqual(budget.needed, { bytes: 1024 ** 2 + 1, atLeast: true });
  });
});
