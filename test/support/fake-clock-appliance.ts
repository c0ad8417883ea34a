// The appliance core on 127.0.0.1 with a fake clock for its ingest timers (retries, ingest.check_every), and what
// auto-ingest tests read back from it: the runner's ingest events, files over HTTP and the iPXE menu.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAppliance, type Appliance } from '../../src/appliance/server.ts';
import type { IngestTimers } from '../../src/events/ingest-jobs.ts';
import { captureLog } from './log-capture.ts';

/** Timers that fire only when the test moves the clock. */
export interface FakeClock {
  now: () => number;
  timers: IngestTimers;
  /** Moves the clock on and fires, in order, the timers that are due. */
  advance: (ms: number) => void;
  /** How many timers wait. */
  pending: () => number;
}

/** A fake clock at 2026-06-01T00:00:00Z with no timers waiting. */
export function fakeClock(): FakeClock {
  let now = Date.parse('2026-06-01T00:00:00Z');
  const waiting = new Set<{ at: number; callback: () => void }>();
  return {
    now: () => now,
    timers: {
      setTimeout: (callback, ms) => {
        const timer = { at: now + ms, callback };
        waiting.add(timer);
        return timer;
      },
      clearTimeout: (handle) => void waiting.delete(handle as { at: number; callback: () => void }),
    },
    advance(ms) {
      now += ms;
      for (const timer of [...waiting].sort((a, b) => a.at - b.at)) {
        if (timer.at > now) continue;
        waiting.delete(timer);
        timer.callback();
      }
    },
    pending: () => waiting.size,
  };
}

/** An appliance started by startWithFakeClock, its clock, and where its files are. */
export interface FakeClockAppliance {
  appliance: Appliance;
  clock: FakeClock;
  dataDir: string;
  configPath: string;
  log: ReturnType<typeof captureLog>;
}

/**
 * Starts the appliance in `dir` with `yaml` as its images.yaml (dir/config/images.yaml, linked from dir/images.yaml:
 * writing it fires no watch event in dir, so only the test's reloads apply), a fake clock, no proxyDHCP, every port 0,
 * and retries after 1 min doubling to 4 min.
 */
export async function startWithFakeClock(dir: string, yaml: string): Promise<FakeClockAppliance> {
  await mkdir(join(dir, 'config'), { recursive: true });
  const configPath = join(dir, 'images.yaml');
  await writeFile(join(dir, 'config', 'images.yaml'), yaml);
  await symlink(join(dir, 'config', 'images.yaml'), configPath);
  const clock = fakeClock();
  const log = captureLog('info');
  const dataDir = join(dir, 'data');
  const appliance = await startAppliance(
    { configPath, dataDir, address: '127.0.0.1', httpPort: 0, tftpPort: 0, dhcpPort: 0, pxePort: 0, proxyDhcp: false },
    { log: log.log, now: clock.now, timers: clock.timers, stockIpxeDir: join(dir, 'no-stock-ipxe'), ingestRetry: { firstMs: 60_000, maxMs: 240_000 } },
  );
  return { appliance, clock, dataDir, configPath, log };
}

/** An ingest event of /api/events without its timing. */
export type IngestEventSeen = { image: string; phase: string; message?: string; retryInMs?: number };

/** The ingest events so far (progress left out), oldest first. */
export async function ingestEvents(appliance: Appliance): Promise<IngestEventSeen[]> {
  const answer = (await (await fetch(`${appliance.serverUrl}/api/events`)).json()) as { events: Array<IngestEventSeen & { kind: string }> };
  return answer.events.filter((event) => event.kind === 'ingest' && event.phase !== 'progress').map(({ image, phase, message, retryInMs }) => ({ image, phase, ...(message ? { message } : {}), ...(retryInMs ? { retryInMs } : {}) }));
}

// connection: close: a keep-alive connection left open after a file answer can hold up the app's close (seen
// now and then; the server side of the socket stayed open after the client's end).
const get = (appliance: Appliance, path: string): Promise<Response> => fetch(`${appliance.serverUrl}${path}`, { headers: { connection: 'close' } });

/** The body of GET `path` as text. */
export const getText = async (appliance: Appliance, path: string): Promise<string> => (await get(appliance, path)).text();

/** The body of GET `path` as bytes. */
export const getBytes = async (appliance: Appliance, path: string): Promise<Buffer> => Buffer.from(await (await get(appliance, path)).arrayBuffer());

/** The iPXE menu a BIOS client gets. */
export const getMenu = (appliance: Appliance): Promise<string> => getText(appliance, '/menu.ipxe?mac=52:54:00:00:00:01&platform=pcbios');
