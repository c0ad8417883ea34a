import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TftpErrorCode, TftpOpcode } from '../../src/tftp/codec.ts';
import { negotiateTftpOptions } from '../../src/tftp/negotiate.ts';
import { normaliseTftpPath, screenTftpRequest } from '../../src/tftp/request.ts';

const limits = { maxBlockSize: 1468, maxWindowSize: 16 };
const opts = (...pairs: Array<[string, string]>) => pairs.map(([name, value]) => ({ name, value }));

describe('negotiateTftpOptions', () => {
  it('grants what EDK2 asks for: tsize with the real size, blksize 1468, windowsize 4', () => {
    const result = negotiateTftpOptions(opts(['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']), 850528, limits);
    assert.deepEqual(result.acknowledged, opts(['tsize', '850528'], ['blksize', '1468'], ['windowsize', '4']));
    assert.deepEqual(result.parameters, { blockSize: 1468, windowSize: 4, timeoutMs: undefined });
  });

  it('sends no OACK and runs RFC 1350 lock-step at 512 bytes when nothing is asked', () => {
    assert.deepEqual(negotiateTftpOptions([], 100, limits), { acknowledged: [], parameters: { blockSize: 512, windowSize: 1, timeoutMs: undefined } });
  });

  it('caps blksize at the configured maximum and windowsize at its limit, never above what was asked', () => {
    const result = negotiateTftpOptions(opts(['blksize', '65464'], ['windowsize', '64']), 1, limits);
    assert.deepEqual(result.acknowledged, opts(['blksize', '1468'], ['windowsize', '16']));
    const small = negotiateTftpOptions(opts(['blksize', '1024'], ['windowsize', '2']), 1, limits);
    assert.deepEqual(small.parameters, { blockSize: 1024, windowSize: 2, timeoutMs: undefined });
  });

  it('echoes a granted timeout exactly (RFC 2349) and leaves out one outside 1..10 s', () => {
    assert.deepEqual(negotiateTftpOptions(opts(['timeout', '3']), 1, limits).acknowledged, opts(['timeout', '3']));
    assert.equal(negotiateTftpOptions(opts(['timeout', '3']), 1, limits).parameters.timeoutMs, 3000);
    assert.deepEqual(negotiateTftpOptions(opts(['timeout', '10']), 1, limits).acknowledged, opts(['timeout', '10']));
    assert.deepEqual(negotiateTftpOptions(opts(['timeout', '0'], ['timeout', '9']), 1, limits).acknowledged, []);
    assert.deepEqual(negotiateTftpOptions(opts(['timeout', '256']), 1, limits).acknowledged, []);
  });

  it('does not grant a timeout over 10 s (issue 14: "timeout 255" held a slot for hours): left out of the OACK, server interval kept', () => {
    for (const value of ['11', '60', '255']) {
      const result = negotiateTftpOptions(opts(['timeout', value], ['tsize', '0']), 7, limits);
      assert.deepEqual(result.acknowledged, opts(['tsize', '7']), `timeout ${value} must not be acknowledged with any value`);
      assert.equal(result.parameters.timeoutMs, undefined);
    }
  });

  it('matches names case-insensitively, keeps the first of duplicates and ignores unknown or malformed options', () => {
    const result = negotiateTftpOptions(
      opts(['BLKSIZE', '1024'], ['blksize', '512'], ['multicast', ''], ['windowsize', '-1'], ['tsize', ' 0'], ['blksize', '7']),
      10,
      limits,
    );
    assert.deepEqual(result.acknowledged, opts(['blksize', '1024']));
    assert.equal(negotiateTftpOptions(opts(['blksize', '7']), 1, limits).acknowledged.length, 0, 'blksize below 8 must be ignored (RFC 2348)');
  });

  it('never grants a blksize or windowsize larger than requested or allowed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200000 }), fc.integer({ min: 0, max: 200000 }), (blksize, windowsize) => {
        const { parameters } = negotiateTftpOptions(opts(['blksize', String(blksize)], ['windowsize', String(windowsize)]), 1, limits);
        assert.ok(parameters.blockSize <= Math.max(blksize, 512) && parameters.blockSize <= 1468 && parameters.blockSize >= 8);
        assert.ok(parameters.windowSize <= Math.max(windowsize, 1) && parameters.windowSize <= 16 && parameters.windowSize >= 1);
      }),
    );
  });
});

describe('screenTftpRequest', () => {
  const rrq = (filename: string, mode = 'octet') => ({ opcode: TftpOpcode.ReadRequest, filename, mode, options: [] });

  it('turns backslashes into slashes and strips leading slashes, as Windows-era clients need', () => {
    assert.deepEqual(screenTftpRequest(rrq('\\boot\\x86\\wdsnbp.com')), { kind: 'read', path: 'boot/x86/wdsnbp.com' });
    assert.deepEqual(screenTftpRequest(rrq('//ipxe.efi', 'OCTET')), { kind: 'read', path: 'ipxe.efi' });
  });

  it('refuses write requests with error 2 "Access violation": the server is read-only', () => {
    const result = screenTftpRequest({ opcode: TftpOpcode.WriteRequest, filename: 'x', mode: 'octet', options: [] });
    assert.equal(result.kind, 'refuse');
    assert.equal(result.kind === 'refuse' && result.code, TftpErrorCode.AccessViolation);
    assert.equal(result.kind === 'refuse' && result.message, 'Access violation');
  });

  it('refuses netascii and mail modes with error 4', () => {
    for (const mode of ['netascii', 'mail']) {
      const result = screenTftpRequest(rrq('ipxe.efi', mode));
      assert.equal(result.kind === 'refuse' && result.code, TftpErrorCode.IllegalOperation, mode);
    }
  });

  it('refuses NUL bytes and over-long names with error 2, and an empty name with error 1', () => {
    assert.equal(normaliseTftpPath('a\0b').kind, 'refuse');
    const long = normaliseTftpPath('a'.repeat(256));
    assert.equal(long.kind === 'refuse' && long.code, TftpErrorCode.AccessViolation);
    assert.equal(normaliseTftpPath('a'.repeat(255)).kind, 'read');
    const empty = normaliseTftpPath('///');
    assert.equal(empty.kind === 'refuse' && empty.code, TftpErrorCode.FileNotFound);
  });
});
