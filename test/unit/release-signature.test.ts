import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { readKeyring, verifyClearSigned, verifyDetached } from '../../src/ingest/releases/signature.ts';

const make = async (name: string) => openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name }], format: 'object' });
const ours = await make('ours');
const theirs = await make('theirs');
const TEXT = 'Suite: stable\nCodename: bookworm\nSHA256:\n x 1 y\n';
const clearSigned = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text: TEXT }), signingKeys: ours.privateKey });

async function signatureError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof IngestError && error.code === IngestErrorCode.Signature && pattern.test(error.message));
}

describe('OpenPGP checks of release indexes', () => {
  test('a binary and an armoured keyring read alike; anything else is one sentence', async () => {
    assert.equal((await readKeyring(ours.publicKey.write(), 'k')).length, 1);
    assert.equal((await readKeyring(Buffer.from(ours.publicKey.armor()), 'k')).length, 1);
    await signatureError(readKeyring(Buffer.from('not a key'), 'k.gpg'), /^the keyring k\.gpg holds no OpenPGP public keys/);
  });

  test('only the signed text is returned: lines an attacker adds after the signature are not', async () => {
    const keys = [ours.publicKey];
    assert.equal(await verifyClearSigned(clearSigned, keys, 'InRelease'), TEXT);
    const appended = `${clearSigned}\nSHA256:\n ${'0'.repeat(64)} 1 main/installer-amd64/current/images/SHA256SUMS\n`;
    assert.equal(await verifyClearSigned(appended, keys, 'InRelease'), TEXT);
  });

  test('a changed text, another key, no signature: refused', async () => {
    await signatureError(verifyClearSigned(clearSigned.replace('bookworm', 'bullseye'), [ours.publicKey], 'InRelease'), /not signed by a key of the keyring/);
    await signatureError(verifyClearSigned(clearSigned, [theirs.publicKey], 'InRelease'), /not signed by a key of the keyring/);
    await signatureError(verifyClearSigned(TEXT, [ours.publicKey], 'InRelease'), /is not a clear-signed OpenPGP message/);
  });

  test('a detached signature over the exact bytes, armoured or binary', async () => {
    const data = Buffer.from(TEXT);
    const armoured = await openpgp.sign({ message: await openpgp.createMessage({ binary: data }), signingKeys: ours.privateKey, detached: true });
    const binary = await openpgp.sign({ message: await openpgp.createMessage({ binary: data }), signingKeys: ours.privateKey, detached: true, format: 'binary' });
    await verifyDetached(data, Buffer.from(armoured), [ours.publicKey], 'Release');
    await verifyDetached(data, binary, [ours.publicKey], 'Release');
    await signatureError(verifyDetached(Buffer.from(TEXT.replace('1', '2')), Buffer.from(armoured), [ours.publicKey], 'Release'), /not signed by a key/);
    await signatureError(verifyDetached(data, Buffer.from('garbage'), [ours.publicKey], 'Release'), /not an OpenPGP signature/);
  });
});
