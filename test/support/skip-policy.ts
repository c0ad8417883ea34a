// The one rule for tests that cannot run on this machine (a tool, a Debian package, root, disk space is
// missing): without CI=true they are skipped and node:test prints the reason; with CI=true (.ci/run, which
// installs every package the tests name and runs as root) a skip is a failure, unless the test is on the
// allow-list below with the reason no CI machine can meet.

/**
 * Tests CI may skip, by the id the test passes to skipOrFail, each with why installing packages cannot
 * make it run. Keep it short: every entry is a test CI never runs.
 */
const CI_MAY_SKIP: Readonly<Record<string, string>> = {
  // Debian's ipxe package has no ipxe32.efi; the VM boots one only where data/ipxe holds bootstation's own
  // build (`bootstation ipxe build`, about 4 minutes), which .ci/run does not make. CI proves everything up to
  // that binary with a GRUB stand-in (netboot.test.ts).
  'netboot-efi32-ipxe-binary': 'no ipxe32.efi without a local iPXE build',
  // Debian ships no arm64 iPXE either: the arm64 VM boots through iPXE's menu only where data/ipxe holds
  // bootstation's own snp-arm64.efi. CI proves everything up to that binary with a GRUB stand-in (netboot.test.ts).
  'netboot-arm64-ipxe-binary': 'no snp-arm64.efi without a local iPXE build',
  // CI runs as root, and root writes into a folder of mode 0555, so the EACCES answer cannot be provoked.
  'first-start-unwritable-config': 'root writes anywhere',
};

/** Whether this run is CI's (CI=true, as .ci/run sets it), where skips fail. */
const IN_CI = process.env['CI'] === 'true';

/**
 * What node:test's `skip` option (or `t.skip`) takes for test `id`, which cannot run here for `reason`
 * (undefined: it can run): false to run, or the reason to skip with. With CI=true it throws instead,
 * failing the test or file, unless `id` is allowed to skip in CI.
 */
export function skipOrFail(id: string, reason: string, inCi?: boolean): string;
export function skipOrFail(id: string, reason: string | undefined, inCi?: boolean): string | false;
export function skipOrFail(id: string, reason: string | undefined, inCi: boolean = IN_CI): string | false {
  if (reason === undefined) return false;
  if (inCi && !(id in CI_MAY_SKIP)) {
    throw new Error(`CI=true, but test "${id}" would be skipped: ${reason}; install what it needs in .ci/run, or allow-list "${id}" with the reason in test/support/skip-policy.ts`);
  }
  return reason;
}
