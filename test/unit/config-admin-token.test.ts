import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/parse.ts';
import { configProblems as problems } from '../support/config-problems.ts';

describe('server.admin_token and server.history_clients', () => {
  it('are absent from the config unless set, so the dashboard stays read-only by default', () => {
    const config = parseConfigText('menu: {title: Lab}\n', 'images.yaml');
    assert.equal('adminToken' in config.server, false);
    assert.equal('historyClients' in config.server, false);
  });

  it('are read when set', () => {
    const config = parseConfigText('server:\n  admin_token: 0123456789abcdef0123\n  history_clients: 25\n', 'images.yaml');
    assert.equal(config.server.adminToken, '0123456789abcdef0123');
    assert.equal(config.server.historyClients, 25);
  });

  it('reject a short token, one with spaces, and a history bound out of range, each with its location', () => {
    assert.deepEqual(problems('server:\n  admin_token: short\n'), ['images.yaml:2:16: server.admin_token: at least 16 characters (e.g. `openssl rand -hex 16`)']);
    assert.deepEqual(problems('server:\n  admin_token: "0123456789 abcdef"\n'), ['images.yaml:2:16: server.admin_token: printable ASCII without spaces, as it travels in an Authorization header']);
    assert.deepEqual(problems('server:\n  history_clients: 0\n'), ['images.yaml:2:20: server.history_clients: must be 1-10000']);
  });
});
