// Issue 14, "handlers that can block": the three services share one thread. Every /boot.ipxe and /menu.ipxe
// checked every file of every image on disk; 200 requests at once with a large images.yaml must not stall /healthz.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ImageConfig } from '../../src/config/model.ts';
import { assertHealthzFast, startHostileServer, timeHealthz, type HostileServer } from './http-hostile-server.ts';

// A large home-lab images.yaml: 300 images of a kernel and 3 initrds each (1,200 files to check per request).
const IMAGES = 300;
const CONCURRENT_REQUESTS = 200;

describe('200 concurrent /boot.ipxe with a config of many images', () => {
  let server: HostileServer;
  before(async () => {
    server = await startHostileServer({}, (dir) =>
      Array.from({ length: IMAGES }, (_, index): ImageConfig => ({
        id: `image-${index}`,
        label: `Image ${index}`,
        dir,
        kernel: index === 0 ? 'linux' : `missing-kernel-${index}`,
        initrds: ['initrd.gz', `missing-a-${index}`, `missing-b-${index}`],
        args: '',
      })),
    );
  });
  after(() => server.close());

  test('/healthz answers in under 100 ms while they are served, and each script is complete', async () => {
    // The first request compiles the code paths; the attack is about what comes after.
    await server.app.inject({ url: '/boot.ipxe?platform=efi' });
    await timeHealthz(server.port);
    // The clients run in another process, so that only the server's work shares this thread with the probes.
    const started = performance.now();
    const attack = execFileAsync(process.execPath, ['-e', ATTACKER, String(server.port), String(CONCURRENT_REQUESTS)]);
    let finished = false;
    void attack.finally(() => (finished = true));
    const healthz: number[] = [];
    while (!finished) {
      healthz.push(await timeHealthz(server.port, { localAddress: '127.0.0.100', askedAt: performance.now() }));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { stdout } = await attack;
    const total = performance.now() - started;
    assert.equal(stdout.trim(), `${CONCURRENT_REQUESTS} scripts`, 'every request got its script');
    assertHealthzFast(healthz, `${CONCURRENT_REQUESTS} concurrent /boot.ipxe (all answered in ${total.toFixed(0)} ms)`);
  });
});

const execFileAsync = promisify(execFile);

// Sends N requests for /boot.ipxe at once, each on its own connection, and prints how many scripts came back.
const ATTACKER = `
const http = require('node:http');
const [port, count] = process.argv.slice(1).map(Number);
let scripts = 0;
// From 20 addresses of 127.0.0.0/8, like machines booting together (one address would meet the per-address cap).
const one = (_, index) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/boot.ipxe?platform=efi', agent: false, localAddress: '127.0.0.' + (index % 20 + 1) }, (response) => {
    let body = '';
    response.on('data', (chunk) => (body += chunk));
    response.on('end', () => { if (body.startsWith('#!ipxe')) scripts += 1; resolve(); });
  }).on('error', reject);
});
Promise.all(Array.from({ length: count }, one)).then(() => console.log(scripts + ' scripts'));
`;
