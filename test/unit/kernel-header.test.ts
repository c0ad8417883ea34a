import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeKernelHeader, type KernelHeader } from '../../src/boot/kernel-header.ts';
import { kernelFitProblem } from '../../src/boot/kernel-fit.ts';
import { PLATFORMS, type PlatformId } from '../../src/boot/platform.ts';

// Synthetic kernel headers, laid out as Documentation/arch/x86/boot.rst, Documentation/arch/arm64/booting.rst and
// the PE/COFF specification place their fields.
const PE_AT = 0x80;
function pe(bytes: Buffer, machine: number): Buffer {
  bytes.write('MZ', 0, 'latin1');
  bytes.writeUInt32LE(PE_AT, 0x3c);
  bytes.write('PE\0\0', PE_AT, 'latin1');
  bytes.writeUInt16LE(machine, PE_AT + 4);
  return bytes;
}
function bzImage(options: { protocol?: number; xloadflags?: number; machine?: number } = {}): Buffer {
  const bytes = Buffer.alloc(0x400);
  bytes.write('HdrS', 0x202, 'latin1');
  bytes.writeUInt16LE(options.protocol ?? 0x020f, 0x206);
  bytes.writeUInt16LE(options.xloadflags ?? 0, 0x236);
  return options.machine === undefined ? bytes : pe(bytes, options.machine);
}
function arm64Image(machine?: number): Buffer {
  const bytes = Buffer.alloc(0x400);
  bytes.write('ARM\x64', 0x38, 'latin1');
  return machine === undefined ? bytes : pe(bytes, machine);
}

const XLF_KERNEL_64 = 1;
const XLF_EFI_HANDOVER_32 = 4;
const XLF_EFI_HANDOVER_64 = 8;

describe('decodeKernelHeader', () => {
  test('an x86_64 bzImage with its EFI stub: XLF_KERNEL_64, both handovers and PE machine 0x8664', () => {
    assert.deepEqual(decodeKernelHeader(bzImage({ xloadflags: XLF_KERNEL_64 | XLF_EFI_HANDOVER_32 | XLF_EFI_HANDOVER_64, machine: 0x8664 })), {
      format: 'bzimage',
      cpu: 'x86_64',
      protocol: 0x020f,
      handover: { efi32: true, efi64: true },
      efi: { machine: 0x8664, cpu: 'x86_64' },
    });
  });

  test('an i386 bzImage: no XLF_KERNEL_64, PE machine 0x14c', () => {
    assert.deepEqual(decodeKernelHeader(bzImage({ xloadflags: XLF_EFI_HANDOVER_32, machine: 0x14c })), {
      format: 'bzimage',
      cpu: 'i386',
      protocol: 0x020f,
      handover: { efi32: true, efi64: false },
      efi: { machine: 0x14c, cpu: 'i386' },
    });
  });

  test('a bzImage before protocol 2.12 has no xloadflags: its bitness is not known, and no EFI stub', () => {
    assert.deepEqual(decodeKernelHeader(bzImage({ protocol: 0x020a, xloadflags: XLF_KERNEL_64 })), {
      format: 'bzimage',
      protocol: 0x020a,
      handover: { efi32: false, efi64: false },
    });
  });

  test('an arm64 Image with and without its EFI stub', () => {
    assert.deepEqual(decodeKernelHeader(arm64Image(0xaa64)), { format: 'arm64-image', efi: { machine: 0xaa64, cpu: 'arm64' } });
    assert.deepEqual(decodeKernelHeader(arm64Image()), { format: 'arm64-image' });
  });

  test('a PE program that is no Linux image, of a known and of another machine', () => {
    assert.deepEqual(decodeKernelHeader(pe(Buffer.alloc(0x200), 0x8664)), { format: 'pe', efi: { machine: 0x8664, cpu: 'x86_64' } });
    assert.deepEqual(decodeKernelHeader(pe(Buffer.alloc(0x200), 0x5064)), { format: 'pe', efi: { machine: 0x5064 } });
  });

  test('gzip, empty, short and foreign bytes', () => {
    assert.deepEqual(decodeKernelHeader(Buffer.from([0x1f, 0x8b, 8, 0])), { format: 'gzip' });
    assert.deepEqual(decodeKernelHeader(new Uint8Array(0)), { format: 'unknown' });
    assert.deepEqual(decodeKernelHeader(Buffer.from('MZ')), { format: 'unknown' });
    assert.deepEqual(decodeKernelHeader(Buffer.from('#!ipxe\necho hello\n')), { format: 'unknown' });
  });

  test('an e_lfanew past the end, or pointing at no "PE\\0\\0", is no PE', () => {
    const far = Buffer.alloc(0x100);
    far.write('MZ', 0, 'latin1');
    far.writeUInt32LE(0xfffffffe, 0x3c);
    assert.deepEqual(decodeKernelHeader(far), { format: 'unknown' });
    const cut = pe(Buffer.alloc(0x100), 0x8664).subarray(0, PE_AT + 5);
    assert.deepEqual(decodeKernelHeader(cut), { format: 'unknown' }, 'the machine field is cut off');
    const wrong = pe(Buffer.alloc(0x100), 0x8664);
    wrong.write('PX', PE_AT, 'latin1');
    assert.deepEqual(decodeKernelHeader(wrong), { format: 'unknown' });
  });

  test('reads a header that sits in a larger buffer at an offset (a Buffer slice of a pooled allocation)', () => {
    const pool = Buffer.alloc(0x1000);
    arm64Image(0xaa64).copy(pool, 0x300);
    assert.deepEqual(decodeKernelHeader(pool.subarray(0x300, 0x700)), { format: 'arm64-image', efi: { machine: 0xaa64, cpu: 'arm64' } });
  });

  test('random bytes, with the magics planted at random places, give an answer and never throw', () => {
    const formats = new Set(['bzimage', 'arm64-image', 'pe', 'gzip', 'unknown']);
    const seen = new Set<string>();
    // Plants "MZ" or gzip's magic at 0, an e_lfanew with or without "PE\0\0" there, "HdrS" and "ARM\x64", so that
    // every branch of the decoder runs on garbage around them.
    const planted = fc
      .record({
        bytes: fc.uint8Array({ maxLength: 0x300, size: 'max' }),
        start: fc.constantFrom('MZ', '\x1f\x8b', ''),
        peOffset: fc.option(fc.oneof(fc.nat(0x300), fc.integer({ min: 0, max: 0xffffffff }))),
        peSignature: fc.boolean(),
        hdrS: fc.boolean(),
        arm64: fc.boolean(),
      })
      .map(({ bytes, start, peOffset, peSignature, hdrS, arm64 }) => {
        const buffer = Buffer.from(bytes);
        const put = (text: string, at: number) => at + text.length <= buffer.length && buffer.write(text, at, 'latin1');
        put(start, 0);
        if (peOffset !== null && buffer.length >= 0x40) {
          buffer.writeUInt32LE(peOffset, 0x3c);
          if (peSignature) put('PE\0\0', peOffset);
        }
        if (hdrS) put('HdrS', 0x202);
        if (arm64) put('ARM\x64', 0x38);
        return buffer;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 0x300 }), planted), (bytes) => {
        const header = decodeKernelHeader(bytes);
        assert.ok(formats.has(header.format), header.format);
        seen.add(header.format);
      }),
      { numRuns: 20_000, seed: 16 },
    );
    assert.deepEqual([...seen].sort(), [...formats].sort(), 'the inputs reached every format');
  });
});

describe('kernelFitProblem: which platform starts which kernel', () => {
  const row = (id: PlatformId) => PLATFORMS.find((platform) => platform.id === id)!;
  const kernels: Record<string, KernelHeader> = {
    'amd64 bzImage': decodeKernelHeader(bzImage({ xloadflags: XLF_KERNEL_64 | XLF_EFI_HANDOVER_32 | XLF_EFI_HANDOVER_64, machine: 0x8664 })),
    '686 bzImage': decodeKernelHeader(bzImage({ xloadflags: XLF_EFI_HANDOVER_32, machine: 0x14c })),
    'arm64 Image': decodeKernelHeader(arm64Image(0xaa64)),
    'bzImage without EFI stub': decodeKernelHeader(bzImage({ xloadflags: XLF_KERNEL_64 })),
    'x64 EFI program': decodeKernelHeader(pe(Buffer.alloc(0x200), 0x8664)),
    'RISC-V EFI program': decodeKernelHeader(pe(Buffer.alloc(0x200), 0x5064)),
    unknown: { format: 'unknown' },
    'gzip not inflated': { format: 'gzip' },
  };
  // Measured: BIOS iPXE starts any x86 bzImage; UEFI iPXE only kernels whose PE machine is the firmware's CPU.
  const expected: Record<string, Record<PlatformId, string | undefined>> = {
    'amd64 bzImage': { bios: undefined, 'efi-x64': undefined, 'efi-ia32': 'x86_64 kernel; this is 32-bit UEFI', 'efi-arm64': 'x86_64 kernel; this is arm64 UEFI' },
    '686 bzImage': { bios: undefined, 'efi-x64': 'i386 kernel; this is x64 UEFI', 'efi-ia32': undefined, 'efi-arm64': 'i386 kernel; this is arm64 UEFI' },
    'arm64 Image': { bios: 'arm64 kernel; this is BIOS', 'efi-x64': 'arm64 kernel; this is x64 UEFI', 'efi-ia32': 'arm64 kernel; this is 32-bit UEFI', 'efi-arm64': undefined },
    'bzImage without EFI stub': {
      bios: undefined,
      'efi-x64': 'kernel without an EFI stub; this is x64 UEFI',
      'efi-ia32': 'kernel without an EFI stub; this is 32-bit UEFI',
      'efi-arm64': 'kernel without an EFI stub; this is arm64 UEFI',
    },
    'x64 EFI program': { bios: 'x86_64 EFI program; this is BIOS', 'efi-x64': undefined, 'efi-ia32': 'x86_64 EFI program; this is 32-bit UEFI', 'efi-arm64': 'x86_64 EFI program; this is arm64 UEFI' },
    'RISC-V EFI program': {
      bios: 'PE machine 0x5064 EFI program; this is BIOS',
      'efi-x64': 'PE machine 0x5064 EFI program; this is x64 UEFI',
      'efi-ia32': 'PE machine 0x5064 EFI program; this is 32-bit UEFI',
      'efi-arm64': 'PE machine 0x5064 EFI program; this is arm64 UEFI',
    },
    unknown: { bios: undefined, 'efi-x64': undefined, 'efi-ia32': undefined, 'efi-arm64': undefined },
    'gzip not inflated': { bios: undefined, 'efi-x64': undefined, 'efi-ia32': undefined, 'efi-arm64': undefined },
  };
  for (const [name, header] of Object.entries(kernels)) {
    test(`${name} on every platform`, () => {
      const actual = Object.fromEntries(PLATFORMS.map((platform) => [platform.id, kernelFitProblem(platform, header)]));
      assert.deepEqual(actual, expected[name]);
    });
  }

  test("images.yaml's arch: replaces what the header says", () => {
    const amd64 = kernels['amd64 bzImage'];
    assert.equal(kernelFitProblem(row('efi-ia32'), amd64, 'i386'), undefined, 'the user says i386');
    assert.equal(kernelFitProblem(row('efi-x64'), amd64, 'i386'), 'i386 kernel; this is x64 UEFI');
    assert.equal(kernelFitProblem(row('efi-arm64'), kernels['unknown'], 'x86_64'), 'x86_64 kernel; this is arm64 UEFI', 'an unreadable kernel with arch: is judged');
    assert.equal(kernelFitProblem(row('bios'), undefined, 'x86_64'), undefined, 'BIOS starts 64-bit kernels');
    assert.equal(kernelFitProblem(row('bios'), undefined, 'arm64'), 'arm64 kernel; this is BIOS');
  });
});
