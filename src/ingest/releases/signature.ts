// OpenPGP checks of signed release indexes with openpgp.js: a clear-signed InRelease, or a Release with its detached Release.gpg.
import * as openpgp from 'openpgp';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** Keys from a keyring file's bytes: a binary keyring (Debian's *.gpg) or ASCII armour (*.asc). */
export async function readKeyring(bytes: Uint8Array, where: string): Promise<openpgp.PublicKey[]> {
  try {
    const text = Buffer.from(bytes.subarray(0, 64)).toString('latin1');
    const keys = text.includes('-----BEGIN PGP')
      ? await openpgp.readKeys({ armoredKeys: Buffer.from(bytes).toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: bytes });
    return keys.map((key) => key.toPublic());
  } catch {
    throw new IngestError(IngestErrorCode.Signature, `the keyring ${where} holds no OpenPGP public keys; name a keyring file (binary .gpg or armoured .asc) in the image's keyring:`);
  }
}

/**
 * The text a clear-signed message signs, once a key of `keys` made a valid signature over it (as apt does, one good
 * signature among several is enough); only that text may be trusted, never what surrounds it.
 */
export async function verifyClearSigned(text: string, keys: openpgp.PublicKey[], where: string): Promise<string> {
  let message;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: text });
  } catch {
    throw unsigned(where, 'is not a clear-signed OpenPGP message');
  }
  const result = await openpgp.verify({ message, verificationKeys: keys });
  await anyValid(result.signatures, where);
  return result.data;
}

/** Resolves when `signature` (Release.gpg, armoured or binary) is a valid signature of `data` by a key of `keys`. */
export async function verifyDetached(data: Uint8Array, signature: Uint8Array, keys: openpgp.PublicKey[], where: string): Promise<void> {
  let parsed;
  try {
    const armoured = Buffer.from(signature.subarray(0, 64)).toString('latin1').includes('-----BEGIN PGP');
    parsed = armoured ? await openpgp.readSignature({ armoredSignature: Buffer.from(signature).toString('utf8') }) : await openpgp.readSignature({ binarySignature: signature });
  } catch {
    throw unsigned(where, 'has a signature file that is not an OpenPGP signature');
  }
  const result = await openpgp.verify({ message: await openpgp.createMessage({ binary: data }), signature: parsed, verificationKeys: keys, format: 'binary' });
  await anyValid(result.signatures, where);
}

async function anyValid(signatures: Array<{ verified: Promise<boolean> }>, where: string): Promise<void> {
  if (signatures.length === 0) throw unsigned(where, 'carries no signature');
  // Each `verified` rejects for a bad signature or an unknown key.
  const valid = await Promise.any(signatures.map((signature) => signature.verified)).catch(() => false);
  if (!valid) throw unsigned(where, 'is not signed by a key of the keyring (or the signature does not match its contents)');
}

function unsigned(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.Signature, `${where} ${what}; nothing was installed — check the mirror, or the image's keyring: when the mirror signs with its own key`);
}
