// server.dhcp_relays in images.yaml: the allow-list of relays ProxyDHCP answers (issue 14 item 9).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/parse.ts';

const withRelays = (relays: string) => `server:\n  address: 10.77.0.2\n  dhcp_relays: ${relays}\nimages: []\n`;

describe('server.dhcp_relays', () => {
  it('is absent unless set, and keeps the listed relays', () => {
    assert.equal(parseConfigText('images: []\n', 'images.yaml').server.dhcpRelays, undefined);
    assert.deepEqual(parseConfigText(withRelays('[10.77.5.1, 192.168.9.1]'), 'images.yaml').server.dhcpRelays, ['10.77.5.1', '192.168.9.1']);
    assert.deepEqual(parseConfigText(withRelays('[]'), 'images.yaml').server.dhcpRelays, [], 'an empty list answers no relay at all');
  });

  for (const [value, problem] of [
    ['[10.77.5]', /dhcp_relays\[0\].*must be an IPv4 address/],
    ['[127.0.0.1]', /dhcp_relays\[0\].*must be a unicast address/],
    ['[10.77.5.1, 255.255.255.255]', /dhcp_relays\[1\].*must be a unicast address/],
    ['[224.0.0.1]', /must be a unicast address/],
    ['10.77.5.1', /dhcp_relays/],
  ] as const) {
    it(`rejects ${value} with a located message`, () => {
      assert.throws(() => parseConfigText(withRelays(value), 'images.yaml'), (error: unknown) => error instanceof ConfigError && problem.test(error.message));
    });
  }
});
