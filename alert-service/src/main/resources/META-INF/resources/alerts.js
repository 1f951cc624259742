// The alerts page: lists alerts from /api/alerts (optionally ?agent=<id>) and acknowledges them.
// The token is typed by the user and kept in sessionStorage only; it is never part of the page.
(function () {
  'use strict';
  const KEY = 'agentspend.alerts.token';
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  $('agent').value = params.get('agent') || '';
  $('state').value = params.get('state') || '';
  $('token').value = sessionStorage.getItem(KEY) || '';

  function token() { return sessionStorage.getItem(KEY) || ''; }
  function status(text) { $('status').textContent = text; }
  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }
  function name(enumValue, prefix) { return (enumValue || '').replace(prefix, ''); }

  async function call(method, url) {
    const response = await fetch(url, { method, headers: { 'Authorization': 'Bearer ' + token() } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { throw new Error(body.message || ('HTTP ' + response.status)); }
    return body;
  }

  async function load() {
    if (!token()) { status('Paste the admin token (to acknowledge) or the service token (to read).'); return; }
    const query = new URLSearchParams();
    if ($('agent').value) { query.set('agent', $('agent').value.trim()); }
    if ($('state').value) { query.set('state', $('state').value); }
    history.replaceState(null, '', '?' + query.toString());
    status('Loading…');
    try {
      const body = await call('GET', 'api/alerts?' + query.toString());
      render(body.alerts || []);
      status((body.alerts || []).length + ' alert(s)');
    } catch (e) {
      status('Could not load alerts: ' + e.message);
    }
  }

  function render(alerts) {
    const tbody = document.querySelector('#alerts tbody');
    tbody.replaceChildren();
    for (const a of alerts) {
      const tr = document.createElement('tr');
      const severity = name(a.severity, 'SEVERITY_');
      const state = name(a.state, 'ALERT_STATE_');
      tr.className = 'state-' + state;
      tr.appendChild(text('td', severity, 'sev-' + severity));
      tr.appendChild(text('td', name(a.rule, 'RULE_').toLowerCase().replace(/_/g, ' ')));
      tr.appendChild(text('td', (a.agentIds || []).join(' → ')));
      tr.appendChild(text('td', state.toLowerCase()));
      const evidence = document.createElement('td');
      evidence.appendChild(text('div', (a.evidence && a.evidence.summary) || ''));
      const list = document.createElement('ul');
      list.className = 'measures';
      for (const m of (a.evidence && a.evidence.measurements) || []) {
        list.appendChild(text('li', m.name + ': ' + (m.value || 0) + (m.threshold && m.threshold !== '0' ? ' (threshold ' + m.threshold + ')' : '')));
      }
      evidence.appendChild(list);
      tr.appendChild(evidence);
      tr.appendChild(text('td', a.firstSeenTime || ''));
      tr.appendChild(text('td', a.lastSeenTime || ''));
      const action = document.createElement('td');
      if (state === 'FIRING') {
        const button = text('button', 'Acknowledge');
        button.addEventListener('click', async () => {
          try {
            await call('POST', 'api/alerts/' + encodeURIComponent(a.alertId) + '/acknowledge?request_id=ui-' + Date.now());
            load();
          } catch (e) {
            status('Could not acknowledge: ' + e.message);
          }
        });
        action.appendChild(button);
      }
      tr.appendChild(action);
      tbody.appendChild(tr);
    }
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $('token').value.trim());
    load();
  });
  $('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); $('token').value = ''; status('Token forgotten.'); });
  $('filter-form').addEventListener('submit', (e) => { e.preventDefault(); load(); });
  load();
}());
