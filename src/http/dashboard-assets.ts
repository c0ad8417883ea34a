// The dashboard's script and style sheet, served by bootstation itself (no CDN: the NAS may be offline) and
// kept as strings here so that `tsc` carries them into dist/ without a build step of their own.

import { formatBytes } from '../text/format.ts';
import { describeDiskUse, describeImageVerification, describeIngestState } from './dashboard-page.ts';

/** /dashboard.js: follows /api/events/stream and updates the server-rendered tables; text goes in by textContent only. */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var STEPS = ['dhcp', 'tftp', 'script', 'menu', 'kernel', 'initrd', 'files'];
  var LABELS = { dhcp: 'DHCP', tftp: 'TFTP', script: 'script', menu: 'menu', kernel: 'kernel', initrd: 'initrd', files: 'files' };

  ${formatBytes.toString()}
  ${describeImageVerification.toString()}
  ${describeDiskUse.toString()}
  ${describeIngestState.toString()}

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function describeStep(step) {
    if (!step.bytes) return step.detail;
    var count = step.count > 1 ? ' (' + step.count + ' files)' : '';
    var rate = step.rate === undefined || step.rate === null ? '' : ' at ' + formatBytes(step.rate) + '/s';
    return formatBytes(step.bytes) + count + rate;
  }

  function clientRow(client) {
    var row = element('tr');
    row.dataset.key = client.key;
    var machine = element('td', 'mac', client.mac || client.key.replace(/^ip:/, ''));
    if (client.macVerified === false) {
      var mark = element('small', 'unverified', 'unverified');
      mark.title = 'claimed by the machine in boot.ipxe?mac=, not seen by DHCP at this address';
      machine.appendChild(document.createTextNode(' '));
      machine.appendChild(mark);
    }
    row.appendChild(machine);
    row.appendChild(element('td', '', client.platform || client.firmware || client.vendorClass || ''));
    row.appendChild(element('td', '', client.ip || ''));
    var step = client.step ? LABELS[client.step] + (client.stepOk ? '' : ' failed') : '';
    row.appendChild(element('td', 'step ' + (client.stepOk ? 'ok' : 'bad'), step));
    var cell = element('td');
    var list = element('ol', 'timeline');
    STEPS.forEach(function (name) {
      var view = client.timeline[name];
      if (!view) return;
      var item = element('li', view.ok ? 'ok' : 'bad');
      item.title = view.detail;
      item.appendChild(element('b', '', LABELS[name]));
      item.appendChild(document.createTextNode(' ' + describeStep(view)));
      list.appendChild(item);
    });
    cell.appendChild(list);
    row.appendChild(cell);
    return row;
  }

  // Rows are found by comparing data attributes, never by building a selector from untrusted text.
  function rowOf(tbody, attribute, value) {
    for (var i = 0; i < tbody.rows.length; i++) if (tbody.rows[i].dataset[attribute] === value) return tbody.rows[i];
    return null;
  }

  function showClient(client, replaced) {
    var tbody = document.querySelector('#clients tbody');
    if (replaced) { var old = rowOf(tbody, 'key', replaced); if (old) old.remove(); }
    var existing = rowOf(tbody, 'key', client.key);
    if (existing) existing.remove();
    tbody.insertBefore(clientRow(client), tbody.firstChild);
    document.getElementById('no-clients').hidden = true;
  }

  function imageProgress(id, text) {
    var row = rowOf(document.querySelector('#images tbody'), 'image', id);
    if (row) row.querySelector('.progress').textContent = text;
  }

  // The state cell during an ingest: "downloading 42 %" as the menu says it, the sizes below it.
  function imageState(id, text) {
    var row = rowOf(document.querySelector('#images tbody'), 'image', id);
    if (!row) return;
    row.cells[1].textContent = text;
    row.cells[1].className = 'state state-busy';
  }

  // While an ingest runs every button waits; Rollback also needs a kept version to go back to.
  function setButtonsDisabled(disabled) {
    document.querySelectorAll('button[data-action]').forEach(function (button) {
      button.disabled = disabled || (button.dataset.action === 'rollback' && button.dataset.kept !== 'yes');
    });
  }

  function refreshImages() {
    fetch('/api/images').then(function (response) { return response.json(); }).then(function (body) {
      body.images.forEach(function (image) {
        var row = rowOf(document.querySelector('#images tbody'), 'image', image.id);
        if (!row) return;
        var runner = body.ingestStates[image.id];
        var state = runner ? describeIngestState(runner) : image.failure ? 'failed: ' + image.failure.message : image.state === 'missing files' ? 'missing ' + image.missingFiles.join(', ') : image.state;
        row.cells[1].textContent = state;
        row.cells[1].className = 'state state-' + (runner && runner.phase !== 'failed' ? 'busy' : image.state.replace(' ', '-'));
        row.cells[2].textContent = image.version || '';
        var verification = describeImageVerification(image);
        row.cells[3].textContent = verification;
        row.cells[3].className = 'verified' + (verification.indexOf('NOT') >= 0 ? ' bad' : '');
        row.cells[4].textContent = describeDiskUse(image);
        row.cells[5].textContent = image.lastIngest ? image.lastIngest.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '';
        var ingest = row.querySelector('button[data-action="ingest"]');
        if (ingest) ingest.textContent = image.lastIngest ? 'Re-ingest' : 'Ingest';
        var rollback = row.querySelector('button[data-action="rollback"]');
        if (rollback) rollback.dataset.kept = image.versions.some(function (version) { return !version.serving; }) ? 'yes' : 'no';
      });
      document.getElementById('disk-free').textContent = body.diskFree === null ? 'unknown' : formatBytes(body.diskFree);
      setButtonsDisabled(body.ingestRunning !== null);
    });
  }

  function onIngest(event) {
    if (event.phase === 'running') { setButtonsDisabled(true); imageState(event.image, describeIngestState({ phase: 'running' })); imageProgress(event.image, 'starting…'); return; }
    if (event.phase === 'progress') {
      imageState(event.image, describeIngestState({ phase: 'running', done: event.done, total: event.total }));
      imageProgress(event.image, formatBytes(event.done) + (event.total ? ' of ' + formatBytes(event.total) : ''));
      return;
    }
    imageProgress(event.image, event.phase === 'failed' ? 'failed: ' + event.message : event.phase);
    refreshImages();
  }

  var live = document.getElementById('live');
  var since = document.body.dataset.lastEventId;
  var source = new EventSource('/api/events/stream?since=' + encodeURIComponent(since));
  source.onopen = function () { live.textContent = 'live'; live.className = 'live on'; };
  source.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'live'; };
  source.addEventListener('boot', function (message) {
    var data = JSON.parse(message.data);
    if (data.client) showClient(data.client, data.replaced);
    if (data.event.kind === 'ingest') onIngest(data.event);
  });

  var token = document.getElementById('token');
  if (token) token.value = sessionStorage.getItem('bootstation-token') || '';
  // Ingest and Check now answer at once (the work arrives as ingest events); Rollback answers when it has switched.
  var DONE = { ingest: 'started', check: 'checking for a new release…' };
  document.querySelectorAll('button[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      var id = button.dataset.image;
      var action = button.dataset.action;
      sessionStorage.setItem('bootstation-token', token.value);
      imageProgress(id, 'asking…');
      fetch('/api/images/' + encodeURIComponent(id) + '/' + action, { method: 'POST', headers: { authorization: 'Bearer ' + token.value } })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (body.error) { imageProgress(id, body.message); return; }
          imageProgress(id, action === 'rollback' ? 'rolled back to ' + body.to : DONE[action]);
          refreshImages();
        })
        .catch(function (error) { imageProgress(id, String(error)); });
    });
  });
})();
`;

/** /dashboard.css: one column on a phone, tables scroll sideways rather than squeeze. */
export const DASHBOARD_STYLE = `:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --muted: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 1em; padding: .6em 1em; border-bottom: 1px solid #8884; }
h1 { font-size: 1.2em; margin: 0; }
h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
main { padding: 0 1em 2em; max-width: 80em; }
.live { font-size: .85em; color: var(--muted); }
.live.on { color: var(--ok); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35em .5em; border-bottom: 1px solid #8883; }
th { font-weight: 600; font-size: .85em; color: var(--muted); }
td.mac { font-family: ui-monospace, monospace; white-space: nowrap; }
.unverified { font-family: system-ui, sans-serif; color: #b45309; }
/* Vendor classes can be long and have no spaces; addresses and steps must stay whole. */
#clients td:nth-child(2) { overflow-wrap: anywhere; min-width: 8em; }
#clients td:nth-child(3), td.step { white-space: nowrap; }
.ok { color: var(--ok); }
.bad { color: var(--bad); }
ol.timeline { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .3em; }
ol.timeline li { border: 1px solid currentColor; border-radius: .3em; padding: 0 .4em; font-size: .85em; max-width: 100%; overflow-wrap: anywhere; }
ol.timeline li b { font-weight: 600; }
.state-failed, .state-missing-files { color: var(--bad); }
.state-ready { color: var(--ok); }
.state-busy { color: #9a6700; }
.progress { display: block; font-size: .85em; color: var(--muted); }
td.actions { white-space: nowrap; }
button { font: inherit; padding: .3em .8em; min-height: 2.2em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dt { color: var(--muted); }
/* Every value in the second column, also when one term has several (the missing first stages). */
dd { margin: 0; overflow-wrap: anywhere; grid-column: 2; }
.empty { color: var(--muted); }
@media (max-width: 40em) {
  body { font-size: 14px; }
  th, td { padding: .3em; }
  /* A phone shows each client as a card: machine and firmware, address and step, then the whole timeline. */
  #clients thead { display: none; }
  #clients tr { display: grid; grid-template-columns: 1fr auto; gap: .15em .8em; padding: .5em 0; border-bottom: 1px solid #8883; }
  #clients td { border: 0; padding: 0; }
  #clients td:nth-child(5) { grid-column: 1 / -1; margin-top: .2em; }
}
`;
