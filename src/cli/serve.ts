// `bootstation serve`: starts the appliance core with the parsed options and runs it until SIGTERM or SIGINT.
import type { Logger } from 'pino';
import { startAppliance, type ApplianceSettings } from '../appliance/server.ts';

/** Options of `bootstation serve` (doctor reads the same ones); undefined means "take it from images.yaml". */
export type ServeOptions = ApplianceSettings;

/** Runs the appliance until SIGTERM or SIGINT (exit code 0, or 1 when closing failed); SIGHUP reloads images.yaml. */
export async function runServe(options: ServeOptions, log: Logger): Promise<number> {
  const appliance = await startAppliance(options, { log, now: Date.now });
  return await new Promise<number>((done) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'shutting down');
      process.off('SIGHUP', hangup);
      appliance.close().then(() => done(0), () => done(1));
    };
    const hangup = (): void => void appliance.config.reload('SIGHUP');
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', hangup);
  });
}
