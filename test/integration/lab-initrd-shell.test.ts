// The lab's test initrd scripts parsed by the shell that runs them in the VM (busybox sh -n), so a syntax
// error fails here instead of as a VM that never reports.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { renderInitScript, renderUdhcpcScript } from '../../tools/lab/initrd-files.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const BUSYBOX = '/bin/busybox';

it('the test initrd scripts are valid shell for busybox', { skip: skipOrFail('lab-initrd-shell', existsSync(BUSYBOX) ? undefined : `no ${BUSYBOX} (Debian package busybox-static)`) }, () => {
  for (const script of [renderInitScript(), renderUdhcpcScript()]) execFileSync(BUSYBOX, ['sh', '-n', '-c', script]);
});
