// Issue 14 item 2: a Range header built to make a backtracking regex explode ("bytes=<n blanks>- <n blanks>x")
// froze DHCP, TFTP and HTTP together: n=4000 stalled the process for 64 s. The parser must stay linear.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { parseSingleRange, planFileResponse } from '../../src/http/conditional.ts';
import { assertHealthzFast, startHostileServer, timeHealthz, type HostileServer } from './http-hostile-server.ts';

// Node's default limit for all request headers together is 16 KiB; this fills most of it with one Range header.
const HOSTILE_BLANKS = 8000;
// The same shape sent over a socket: small enough that the request line and the other headers still fit in 16 KiB.
const WIRE_BLANKS = 7900;
const hostileHeaders = [
  `bytes=${' '.repeat(HOSTILE_BLANKS)}- ${' '.repeat(HOSTILE_BLANKS)}x`,
  `bytes=${'\t'.repeat(HOSTILE_BLANKS)}-${'\t'.repeat(HOSTILE_BLANKS)}`,
  `bytes=${'- '.repeat(HOSTILE_BLANKS)}x`,
  `bytes=${'0'.repeat(2 * HOSTILE_BLANKS)}- x`,
  `bytes=${' 0'.repeat(HOSTILE_BLANKS)}-`,
  `${' '.repeat(2 * HOSTILE_BLANKS)}bytes=0-1 x`,
  `bytes=${','.repeat(2 * HOSTILE_BLANKS)}`,
];
// Generous for a shared 2-core machine: a linear parse of 16 KB takes well under a millisecond; the old regex took minutes.
const PARSE_BOUND_MS = 50;

describe('hostile Range headers are parsed in linear time', () => {
  for (const header of hostileHeaders) {
    test(`${JSON.stringify(header.slice(0, 12))}… (${header.length} characters) is parsed in under ${PARSE_BOUND_MS} ms and ignored`, () => {
      const started = performance.now();
      const result = parseSingleRange(header, 1_000_000);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < PARSE_BOUND_MS, `parsing took ${elapsed.toFixed(1)} ms`);
      assert.equal(result, 'ignore');
    });
  }
});

describe('Range parser fuzz (time-bounded)', () => {
  const blanks = fc.stringMatching(/^[ \t]{0,3}$/);
  // Positions a file can have (beyond 2^53 the digits no longer name one byte; the unit tests cover those).
  const digits = fc.oneof(fc.constant(''), fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }).map(String));

  test('any text made of Range characters: never throws, answers in bounds, each parse well under the bound', () => {
    const alphabet = fc.constantFrom(' ', '\t', '-', '=', ',', '0', '1', '9', 'b', 'y', 't', 'e', 's', 'x', 'B');
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 4096 }), fc.nat({ max: 5000 }), (tail, size) => {
        for (const header of [tail, `bytes=${tail}`]) {
          const started = performance.now();
          const result = parseSingleRange(header, size);
          assert.ok(performance.now() - started < PARSE_BOUND_MS, `slow on ${JSON.stringify(header.slice(0, 40))}`);
          if (typeof result === 'object') assert.ok(0 <= result.start && result.start <= result.end && result.end < size, JSON.stringify({ header, result }));
        }
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 10_000 },
    );
  });

  test('well-formed single ranges with blanks around "=" and "-" answer exactly what RFC 9110 §14.1.2 says', () => {
    fc.assert(
      fc.property(blanks, blanks, blanks, blanks, digits, digits, fc.nat({ max: 5000 }), (b1, b2, b3, b4, first, last, size) => {
        const header = `bytes${b1}=${b2}${first}${b3}-${b4}${last}`;
        const result = parseSingleRange(header, size);
        assert.deepEqual(result, expectedRange(first, last, size), header);
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 10_000 },
    );
  });
});

// The model: the same decisions written the slow, obvious way with BigInt.
function expectedRange(first: string, last: string, size: number): ReturnType<typeof parseSingleRange> {
  if (first === '' && last === '') return 'ignore';
  const total = BigInt(size);
  if (first === '') {
    const suffix = BigInt(last);
    if (suffix === 0n || total === 0n) return 'unsatisfiable';
    return { start: Number(total > suffix ? total - suffix : 0n), end: size - 1 };
  }
  const start = BigInt(first);
  if (last !== '' && BigInt(last) < start) return 'ignore';
  if (start >= total) return 'unsatisfiable';
  const end = last === '' || BigInt(last) > total - 1n ? total - 1n : BigInt(last);
  return { start: Number(start), end: Number(end) };
}

describe('a hostile Range header sent to a real server', () => {
  let server: HostileServer;
  before(async () => {
    server = await startHostileServer();
  });
  after(() => server.close());

  test('HEAD /ipxe/undionly.kpxe with the issue\'s header answers 200 at once and /healthz stays under 100 ms', async () => {
    const healthz: number[] = [];
    for (let round = 0; round < 10; round++) {
      const answer = sendRaw(server.port, `HEAD /ipxe/undionly.kpxe HTTP/1.1\r\nHost: x\r\nRange: bytes=${' '.repeat(WIRE_BLANKS)}- ${' '.repeat(WIRE_BLANKS)}x\r\nConnection: close\r\n\r\n`);
      // /healthz asked 10 ms into the attack, timed from then (the server shares this test's thread).
      const askedAt = performance.now() + 10;
      await new Promise((resolve) => setTimeout(resolve, 10));
      healthz.push(await timeHealthz(server.port, { askedAt }));
      assert.match(await answer, /^HTTP\/1\.1 200 /, 'a Range that does not parse is ignored: the whole file');
    }
    assertHealthzFast(healthz, 'hostile Range headers');
  });
});

function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
    socket.write(text);
  });
}
