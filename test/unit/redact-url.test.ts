import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl, redactUrlsIn } from '../../src/config/redact-url.ts';

test('redactUrl hides userinfo, query and fragment and keeps the rest', () => {
  assert.equal(redactUrl('https://alice:s3cret@mirror.example/debian/netboot.tar.gz?token=abc#x'), 'https://***@mirror.example/debian/netboot.tar.gz?***');
  assert.equal(redactUrl('http://user@host:8080/a'), 'http://***@host:8080/a');
  assert.equal(redactUrl('https://deb.debian.org/debian/x.tar.gz'), 'https://deb.debian.org/debian/x.tar.gz');
  assert.equal(redactUrl('https://h/a?'), 'https://h/a');
});

test('redactUrl leaves text that is not a URL as it is, cut to 512 characters', () => {
  assert.equal(redactUrl('/srv/netboot/x.iso'), '/srv/netboot/x.iso');
  assert.equal(redactUrl('x'.repeat(600)).length, 512);
});

test('redactUrlsIn redacts every URL inside a message and leaves the rest of the text', () => {
  assert.equal(
    redactUrlsIn('the server refused https://alice:s3cret@mirror.example/a.iso?token=abc (HTTP 403); check http://h/b?k=v'),
    'the server refused https://***@mirror.example/a.iso?*** (HTTP 403); check http://h/b?***',
  );
  assert.equal(redactUrlsIn('no URL here'), 'no URL here');
});
