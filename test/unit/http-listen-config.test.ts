import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/parse.ts';
import { configProblems as problems } from '../support/config-problems.ts';

describe('server.http_listen', () => {
  it('is absent unless set: HTTP then listens on the serving address and loopback only', () => {
    assert.equal('httpListen' in parseConfigText('menu: {title: Lab}\n', 'images.yaml').server, false);
  });

  it('reads a list of addresses, or all', () => {
    assert.deepEqual(parseConfigText('server:\n  http_listen: [10.0.0.9, 192.168.1.2]\n', 'images.yaml').server.httpListen, ['10.0.0.9', '192.168.1.2']);
    assert.equal(parseConfigText('server:\n  http_listen: all\n', 'images.yaml').server.httpListen, 'all');
  });

  it('rejects anything else with its location', () => {
    assert.deepEqual(problems('server:\n  http_listen: everything\n'), ['images.yaml:2:16: server.http_listen: must be all or a list of IPv4 addresses such as [10.77.0.2]']);
    assert.deepEqual(problems('server:\n  http_listen: [10.0.0.300]\n'), ['images.yaml:2:17: server.http_listen[0]: must be an IPv4 address such as 10.77.0.2']);
    assert.deepEqual(problems('server:\n  http_listen: []\n'), ['images.yaml:2:16: server.http_listen: must list at least one address']);
  });
});
