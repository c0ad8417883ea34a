import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TftpReadTransfer, tftpDefaultIdleTimeoutMs, type TftpTransferAction, type TftpTransferConfig, type TftpTransferSummary } from '../../src/tftp/transfer.ts';
import { seededRandom } from '../support/seeded-random.ts';

const base: TftpTransferConfig = { fileSize: 0, blockSize: 512, windowSize: 1, optionAck: [], retransmitTimeoutMs: 1000, maxRetries: 3 };
const transfer = (overrides: Partial<TftpTransferConfig>) => new TftpReadTransfer({ ...base, ...overrides });

/** Wire block numbers of the DATA packets among the actions, in order. */
const dataBlocks = (actions: TftpTransferAction[]) => actions.flatMap((action) => (action.type === 'send-data' ? [action.block] : []));
const timers = (actions: TftpTransferAction[]) => actions.flatMap((action) => (action.type === 'arm-timer' ? [action.delayMs] : []));
const summary = (actions: TftpTransferAction[]): TftpTransferSummary | undefined =>
  actions.flatMap((action) => (action.type === 'finish' ? [action.summary] : []))[0];

describe('TftpReadTransfer', () => {
  it('runs lock-step: DATA n, ACK n, … and ends with a short block', () => {
    const machine = transfer({ fileSize: 1200 });
    assert.equal(machine.totalBlocks, 3);
    const start = machine.handle({ type: 'start', now: 0 });
    assert.deepEqual(start, [{ type: 'send-data', block: 1, position: 0, length: 512 }, { type: 'arm-timer', delayMs: 1000 }]);
    assert.deepEqual(machine.handle({ type: 'ack', block: 1, now: 5 }), [
      { type: 'send-data', block: 2, position: 512, length: 512 },
      { type: 'arm-timer', delayMs: 1000 },
    ]);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 2, now: 6 })), [3]);
    const end = machine.handle({ type: 'ack', block: 3, now: 9 });
    assert.deepEqual(summary(end), { outcome: { kind: 'completed' }, bytesAcknowledged: 1200, durationMs: 9, retransmissions: 0 });
    assert.ok(machine.finished);
    assert.deepEqual(machine.handle({ type: 'ack', block: 3, now: 10 }), [], 'a finished transfer must stay silent');
  });

  it('ends a file that is a whole number of blocks with an empty DATA (RFC 1350 §6)', () => {
    const machine = transfer({ fileSize: 1024 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 1, now: 0 });
    assert.deepEqual(machine.handle({ type: 'ack', block: 2, now: 0 })[0], { type: 'send-data', block: 3, position: 1024, length: 0 });
  });

  it('sends an OACK first and the first DATA only on ACK 0 (RFC 2347)', () => {
    const optionAck = [{ name: 'blksize', value: '1468' }];
    const machine = transfer({ fileSize: 3000, blockSize: 1468, optionAck });
    assert.deepEqual(machine.handle({ type: 'start', now: 0 }), [{ type: 'send-option-ack', options: optionAck }, { type: 'arm-timer', delayMs: 1000 }]);
    assert.deepEqual(machine.handle({ type: 'ack', block: 5, now: 1 }), [], 'only ACK 0 confirms an OACK');
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 0, now: 2 })), [1]);
  });

  it('sends windows of 4 and the next window on the ACK of the last block of a window (RFC 7440)', () => {
    const machine = transfer({ fileSize: 10 * 512 + 100, windowSize: 4, optionAck: [{ name: 'windowsize', value: '4' }] });
    machine.handle({ type: 'start', now: 0 });
    const first = machine.handle({ type: 'ack', block: 0, now: 1 });
    assert.deepEqual(dataBlocks(first), [1, 2, 3, 4]);
    assert.deepEqual(timers(first), [1000], 'one timer per window, not per block');
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 4, now: 2 })), [5, 6, 7, 8]);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 8, now: 3 })), [9, 10, 11]);
    assert.equal(summary(machine.handle({ type: 'ack', block: 11, now: 4 }))?.outcome.kind, 'completed');
  });

  it('never resends on a duplicate ACK in lock-step (Sorcerer\'s Apprentice, RFC 1123 §4.2.3.1)', () => {
    const machine = transfer({ fileSize: 2000 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 1, now: 1 });
    assert.deepEqual(machine.handle({ type: 'ack', block: 1, now: 2 }), []);
    assert.deepEqual(machine.handle({ type: 'ack', block: 1, now: 3 }), []);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 2, now: 4 })), [3]);
  });

  it('resends a lost DATA when the timer fires, with backoff, and goes on after its ACK', () => {
    const machine = transfer({ fileSize: 2000 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 1, now: 10 }); // DATA 2 goes out and is lost
    const first = machine.handle({ type: 'timer-fired', now: 1010 });
    assert.deepEqual(dataBlocks(first), [2]);
    assert.deepEqual(timers(first), [2000], 'the second wait doubles');
    const second = machine.handle({ type: 'timer-fired', now: 3010 });
    assert.deepEqual([dataBlocks(second), timers(second)], [[2], [4000]]);
    const next = machine.handle({ type: 'ack', block: 2, now: 3020 });
    assert.deepEqual([dataBlocks(next), timers(next)], [[3], [1000]], 'progress refills the retry budget and resets the backoff');
  });

  it('resends the DATA whose ACK was lost, then accepts the late ACK once', () => {
    const machine = transfer({ fileSize: 700 });
    machine.handle({ type: 'start', now: 0 }); // client gets DATA 1, its ACK 1 is lost
    assert.deepEqual(dataBlocks(machine.handle({ type: 'timer-fired', now: 1000 })), [1]);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 1, now: 1001 })), [2]);
    assert.deepEqual(machine.handle({ type: 'ack', block: 1, now: 1002 }), [], 'the client\'s second ACK 1 (for the resent DATA 1) is a duplicate');
  });

  it('goes on from n+1 with a full window when the client ACKs block n in the middle of a window (RFC 7440 §4)', () => {
    const machine = transfer({ fileSize: 20 * 512, windowSize: 4 });
    machine.handle({ type: 'start', now: 0 }); // DATA 1-4, DATA 3 lost: the client ACKs 2
    const resend = machine.handle({ type: 'ack', block: 2, now: 5 });
    assert.deepEqual(dataBlocks(resend), [3, 4, 5, 6], 'EDK2 counts a full window before it ACKs again');
    assert.deepEqual(machine.handle({ type: 'ack', block: 1, now: 6 }), [], 'an ACK before the window is stale');
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 6, now: 7 })), [7, 8, 9, 10]);
  });

  it('ignores repeated ACKs of the block before a window too (echoes of a gap) and resends that window on timeout', () => {
    const machine = transfer({ fileSize: 20 * 512, windowSize: 4 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 4, now: 1 }); // DATA 5-8, DATA 5 lost: EDK2 ACKs 4 once for each of 6, 7, 8
    for (let copy = 0; copy < 3; copy++) assert.deepEqual(machine.handle({ type: 'ack', block: 4, now: 2 }), []);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'timer-fired', now: 1001 })), [5, 6, 7, 8]);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 8, now: 1002 })), [9, 10, 11, 12]);
  });

  it('advances exactly one window when a resent window, already received, comes back as four ACKs of its end', () => {
    const machine = transfer({ fileSize: 20 * 512, windowSize: 4 });
    machine.handle({ type: 'start', now: 0 }); // DATA 1-4 arrive, the ACK 4 is lost
    assert.deepEqual(dataBlocks(machine.handle({ type: 'timer-fired', now: 1000 })), [1, 2, 3, 4]);
    // The client already has 1-4: every resent block is out of order and it answers each with ACK 4.
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 4, now: 1001 })), [5, 6, 7, 8]);
    for (let copy = 0; copy < 3; copy++) assert.deepEqual(machine.handle({ type: 'ack', block: 4, now: 1002 }), [], 'an echo must not resend 5-8');
  });

  it('rolls block numbers over from 65535 to 0 for files over 32 MiB at 512-byte blocks', () => {
    const fileSize = 65540 * 512;
    const machine = transfer({ fileSize, windowSize: 4 });
    const wire: number[] = [];
    let actions = machine.handle({ type: 'start', now: 0 });
    while (!machine.finished) {
      const blocks = dataBlocks(actions);
      wire.push(...blocks);
      const last = blocks.at(-1);
      assert.ok(last !== undefined, 'every ACK of a window end must bring more DATA until the end');
      actions = machine.handle({ type: 'ack', block: last, now: 1 });
    }
    assert.equal(wire.length, 65541);
    assert.deepEqual(wire.slice(65533, 65541), [65534, 65535, 0, 1, 2, 3, 4, 5]);
    assert.equal(summary(actions)?.bytesAcknowledged, fileSize);
  });

  it('maps an ACK across the rollover to the right window (mid-window ACK 0 after 65535)', () => {
    const machine = transfer({ fileSize: 70000 * 512, windowSize: 4 });
    let actions = machine.handle({ type: 'start', now: 0 });
    for (let block = 4; block <= 65532; block += 4) actions = machine.handle({ type: 'ack', block, now: 0 });
    assert.deepEqual(dataBlocks(actions), [65533, 65534, 65535, 0]);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 65535, now: 0 })), [0, 1, 2, 3]);
    assert.deepEqual(dataBlocks(machine.handle({ type: 'ack', block: 0, now: 0 })), [1, 2, 3, 4]);
    assert.deepEqual(machine.handle({ type: 'ack', block: 65534, now: 0 }), [], 'an ACK from before the rollover is stale');
  });

  it('gives up after maxRetries timeouts with ERROR 0 and a timed-out outcome', () => {
    const machine = transfer({ fileSize: 5000, maxRetries: 3 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 1, now: 0 });
    let now = 0;
    const waits: number[] = [];
    for (let retry = 0; retry < 3; retry++) {
      now += 1000 * 2 ** retry;
      const actions = machine.handle({ type: 'timer-fired', now });
      assert.deepEqual(dataBlocks(actions), [2]);
      waits.push(...timers(actions));
    }
    assert.deepEqual(waits, [2000, 4000, 8000]);
    const end = machine.handle({ type: 'timer-fired', now: now + 8000 });
    assert.deepEqual(end[0], { type: 'send-error', code: 0, message: 'Transfer timed out' });
    assert.deepEqual(summary(end), { outcome: { kind: 'timed-out', retries: 3 }, bytesAcknowledged: 512, durationMs: 15000, retransmissions: 3 });
  });

  it('caps the backoff at 8× the first interval', () => {
    const machine = transfer({ fileSize: 10, maxRetries: 6, idleTimeoutMs: 60_000 });
    let now = 0;
    const waits = [...timers(machine.handle({ type: 'start', now }))];
    for (let retry = 0; retry < 6; retry++) {
      now += waits.at(-1) ?? 0;
      waits.push(...timers(machine.handle({ type: 'timer-fired', now })));
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it('ends a silent transfer at the idle timeout, even with the longest RFC 2349 interval and many retries', () => {
    // The issue 14 arithmetic: 255 s with backoff (1+2+4+8+8+8) × 255 s = 7,905 s. The idle timeout cuts it.
    const machine = transfer({ fileSize: 10, optionAck: [{ name: 'tsize', value: '10' }], retransmitTimeoutMs: 255_000, maxRetries: 1000 });
    let now = 0;
    let actions = machine.handle({ type: 'start', now });
    assert.deepEqual(timers(actions), [tftpDefaultIdleTimeoutMs], 'the first wait already stops at the idle deadline');
    while (!machine.finished) {
      now += timers(actions)[0] ?? assert.fail('an unfinished transfer always arms its timer');
      actions = machine.handle({ type: 'timer-fired', now });
    }
    assert.equal(now, tftpDefaultIdleTimeoutMs);
    assert.equal(summary(actions)?.outcome.kind, 'timed-out');
  });

  it('clips the backoff to the idle deadline, which every new window (progress) moves, and stray ACKs do not', () => {
    const machine = transfer({ fileSize: 5000, retransmitTimeoutMs: 1000, maxRetries: 100, idleTimeoutMs: 10_000 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 1, now: 500 });
    const waits: number[] = [];
    let now = 500;
    let actions: TftpTransferAction[] = [];
    while (!machine.finished) {
      now += waits.at(-1) ?? 1000;
      // A hostile client keeps acknowledging the block before the window and blocks never sent: no progress.
      assert.deepEqual(machine.handle({ type: 'ack', block: 1, now }), []);
      assert.deepEqual(machine.handle({ type: 'ack', block: 9, now }), []);
      actions = machine.handle({ type: 'timer-fired', now });
      waits.push(...timers(actions));
    }
    assert.deepEqual(waits, [2000, 4000, 3000], "1 s, 2 s and 4 s of backoff, then the 3 s left of the 10 s since ACK 1");
    assert.equal(now, 10_500);
    assert.deepEqual(summary(actions)?.outcome, { kind: 'timed-out', retries: 3 });
  });

  it('re-arms a timer that fires before its deadline instead of resending', () => {
    const machine = transfer({ fileSize: 10 });
    machine.handle({ type: 'start', now: 0 });
    assert.deepEqual(machine.handle({ type: 'timer-fired', now: 400 }), [{ type: 'arm-timer', delayMs: 600 }]);
  });

  it('treats ERROR 8 after the OACK as a declined negotiation (the UEFI tsize probe), not a failure', () => {
    const machine = transfer({ fileSize: 850528, blockSize: 1468, optionAck: [{ name: 'tsize', value: '850528' }] });
    machine.handle({ type: 'start', now: 100 });
    const end = machine.handle({ type: 'error', code: 8, message: 'User aborted the transfer', now: 102 });
    assert.deepEqual(summary(end), {
      outcome: { kind: 'options-declined', message: 'User aborted the transfer' },
      bytesAcknowledged: 0,
      durationMs: 2,
      retransmissions: 0,
    });
  });

  it('reports any other client ERROR as a client error with the bytes acknowledged so far', () => {
    const machine = transfer({ fileSize: 5000 });
    machine.handle({ type: 'start', now: 0 });
    machine.handle({ type: 'ack', block: 1, now: 0 });
    const end = machine.handle({ type: 'error', code: 0, message: 'cancelled', now: 0 });
    assert.deepEqual(summary(end)?.outcome, { kind: 'client-error', code: 0, message: 'cancelled' });
    assert.equal(summary(end)?.bytesAcknowledged, 512);
  });

  it('sends every block exactly once without loss, and one lost DATA costs at most one window more', () => {
    for (const windowSize of [1, 4, 8]) {
      const config = { ...base, fileSize: 100 * 64 + 10, blockSize: 64, windowSize };
      const clean = simulate(config, () => false);
      assert.equal(clean.dataSent, 101, `windowsize ${windowSize} without loss`);
      let packet = 0;
      const oneLoss = simulate(config, () => ++packet === 40);
      assert.equal(oneLoss.outcome, 'completed');
      assert.ok(oneLoss.dataSent <= 101 + windowSize, `windowsize ${windowSize}: one loss made ${oneLoss.dataSent - 101} extra DATA`);
    }
  });

  it('delivers every byte in order through random loss of DATA and ACKs in both directions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 * 64 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.boolean(),
        fc.integer(),
        (fileSize, windowSize, withOack, seed) => {
          const random = seededRandom(seed);
          const optionAck = withOack ? [{ name: 'tsize', value: String(fileSize) }] : [];
          // 50 retries and no idle bound ride out any run of losses; the idle bound has tests of its own.
          const config = { ...base, fileSize, blockSize: 64, windowSize, maxRetries: 50, idleTimeoutMs: Number.POSITIVE_INFINITY, optionAck };
          const received = simulate(config, () => random() < 0.2);
          assert.equal(received.outcome, 'completed');
          assert.deepEqual(received.positions, Array.from({ length: Math.floor(fileSize / 64) + 1 }, (_, index) => index * 64));
        },
      ),
      { numRuns: 300 },
    );
  });
});


/**
 * Runs a transfer against a model of an RFC 7440 receiver (as EDK2 behaves: ACK the last in-order block on a
 * gap, ACK every `windowSize` blocks and at the end, re-ACK on its own timeout), with `lost()` deciding per
 * packet whether the network drops it. Returns the file positions the receiver accepted, in order.
 */
function simulate(config: TftpTransferConfig, lost: () => boolean): { outcome: string; positions: number[]; dataSent: number } {
  const machine = new TftpReadTransfer(config);
  const positions: number[] = [];
  let now = 0;
  let deadline = Number.POSITIVE_INFINITY;
  let expected = 1; // absolute block the receiver wants next
  let sinceAck = 0;
  let outcome = 'running';
  let dataSent = 0;
  const clientTimeoutMs = 3000;
  const inbox: TftpTransferAction[] = [];
  const toServer: number[] = [];
  const run = (actions: TftpTransferAction[]) => {
    for (const action of actions) {
      if (action.type === 'arm-timer') deadline = now + action.delayMs;
      else if (action.type === 'finish') outcome = action.summary.outcome.kind;
      else {
        if (action.type === 'send-data') dataSent += 1;
        if (!lost()) inbox.push(action);
      }
    }
  };
  const ack = (wire: number) => {
    sinceAck = 0;
    if (!lost()) toServer.push(wire);
  };
  run(machine.handle({ type: 'start', now }));
  let lastHeard = now;
  for (let steps = 0; steps < 100000 && !machine.finished; steps++) {
    const packet = inbox.shift();
    if (packet) {
      lastHeard = now;
      if (packet.type === 'send-option-ack') {
        if (expected === 1) ack(0);
      } else if (packet.type === 'send-data') {
        if (packet.block !== (expected & 0xffff)) {
          ack((expected - 1) & 0xffff);
        } else {
          positions.push(packet.position);
          expected += 1;
          sinceAck += 1;
          if (packet.length < config.blockSize || sinceAck === config.windowSize) ack((expected - 1) & 0xffff);
        }
      }
    } else {
      const wire = toServer.shift();
      if (wire !== undefined) {
        now += 1;
        run(machine.handle({ type: 'ack', block: wire, now }));
      } else if (positions.length > 0 && positions.length === machine.totalBlocks) {
        // Done on the client side; its final ACK may be lost, so it answers resent final DATA (dallying).
        now = deadline;
        run(machine.handle({ type: 'timer-fired', now }));
      } else if (deadline - now < clientTimeoutMs - (now - lastHeard)) {
        now = deadline;
        run(machine.handle({ type: 'timer-fired', now }));
      } else {
        now = lastHeard + clientTimeoutMs;
        lastHeard = now;
        ack((expected - 1) & 0xffff);
      }
    }
  }
  return { outcome, positions, dataSent };
}
