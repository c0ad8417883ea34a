// The container's HEALTHCHECK: `node dist/appliance/healthcheck.js` exits 0 when /healthz answers 200 on
// the HTTP port serve uses (BOOTSTATION_HTTP_PORT, else server.http_port of the config, else 80).
import { loadConfigFile } from '../config/load.ts';

/** The /healthz URL of the server in this container, on the port serve chose with the same precedence. */
export async function healthcheckUrl(env: NodeJS.ProcessEnv): Promise<string> {
  const fromEnv = env['BOOTSTATION_HTTP_PORT'];
  const port = fromEnv ? Number(fromEnv) : (await loadConfigFile(env['BOOTSTATION_CONFIG'] ?? 'images.yaml')).server.httpPort;
  return `http://127.0.0.1:${port}/healthz`;
}

/** Fetches the URL; true when it answers 200 within timeoutMs. */
export async function isHealthy(url: string, timeoutMs = 4000): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
  return response?.status === 200;
}

if (import.meta.main) {
  // A config that cannot be read means no server answers either: unhealthy, with the reason.
  const url = await healthcheckUrl(process.env).catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
  const healthy = await isHealthy(url);
  process.stdout.write(`${url}: ${healthy ? 'ok' : 'no answer'}\n`);
  process.exit(healthy ? 0 : 1);
}
