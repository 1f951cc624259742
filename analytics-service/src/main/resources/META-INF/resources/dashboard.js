// AgentSpend analytics dashboard: plain JavaScript over the service's JSON API (/v1/...).
// The admin token is pasted by the user and kept in sessionStorage only; it is never part of the page.
'use strict';

const TOKEN_KEY = 'agentspend.analytics.token';
const state = { pageTokens: [''], page: 0, charts: [], alertsUrl: 'http://localhost:8084/' };

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

async function api(path) {
  const res = await fetch(path, { headers: { 'Authorization': 'Bearer ' + token() } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error((body.code || res.status) + ': ' + (body.message || res.statusText));
  }
  return body;
}

// Money arrives as int64 micro-units in JSON strings: formatted exactly with BigInt, at least 2 decimals.
function money(micros) {
  let m = BigInt(micros || '0');
  const negative = m < 0n;
  if (negative) { m = -m; }
  const whole = m / 1000000n;
  let frac = (m % 1000000n).toString().padStart(6, '0').replace(/0+$/, '');
  while (frac.length < 2) { frac += '0'; }
  return (negative ? '-' : '') + '$' + whole.toString() + '.' + frac;
}

function percent(ratio) { return (Number(ratio || 0) * 100).toFixed(1) + '%'; }

function text(id, value) { document.getElementById(id).textContent = value; }

function showError(e) {
  const el = document.getElementById('error');
  el.textContent = e ? String(e.message || e) : '';
  el.hidden = !e;
}

const TRIGGER_LABELS = {
  TRIGGER_COST_PER_TASK_UP: 'cost per task +20% WoW',
  TRIGGER_VELOCITY_OVER_BUDGET: 'velocity over budget',
  TRIGGER_TOOL_CONCENTRATION: 'one tool > 50%',
  TRIGGER_CAP_UTILIZATION_HIGH: 'cap > 80% most days'
};

function cell(row, value, cls) {
  const td = document.createElement('td');
  td.textContent = value;
  if (cls) { td.className = cls; }
  row.appendChild(td);
  return td;
}

function clearCharts() {
  state.charts.forEach(c => c.destroy());
  state.charts = [];
}

async function loadFleet() {
  const params = new URLSearchParams();
  params.set('page_size', '100');
  const team = document.getElementById('filter-team').value.trim();
  const label = document.getElementById('filter-label').value.trim();
  if (team) { params.set('team_id', team); }
  if (label) { params.append('label', label); }
  params.set('sort_field', document.getElementById('filter-sort').value);
  if (document.getElementById('filter-desc').checked) { params.set('descending', 'true'); }
  if (document.getElementById('filter-triggered').checked) { params.set('triggered_only', 'true'); }
  const pageToken = state.pageTokens[state.page];
  if (pageToken) { params.set('page_token', pageToken); }
  const fleet = await api('/v1/fleet?' + params.toString());
  const body = document.querySelector('#fleet tbody');
  body.replaceChildren();
  for (const a of fleet.agents) {
    const row = document.createElement('tr');
    row.dataset.agentId = a.agent_id;
    const triggers = new Set(a.triggers);
    const name = document.createElement('td');
    const link = document.createElement('a');
    link.href = '#/agent/' + encodeURIComponent(a.agent_id);
    link.textContent = a.handle || a.agent_id;
    name.appendChild(link);
    row.appendChild(name);
    cell(row, a.team_id);
    cell(row, money(a.cost_per_task_micros), 'num cost-per-task' + (triggers.has('TRIGGER_COST_PER_TASK_UP') ? ' hot' : ''));
    cell(row, a.has_cost_change ? Number(a.cost_per_task_change_percent).toFixed(1) + '%' : '–',
      'num cost-change' + (triggers.has('TRIGGER_COST_PER_TASK_UP') ? ' hot' : ''));
    cell(row, money(a.velocity_per_hour_micros), 'num velocity' + (triggers.has('TRIGGER_VELOCITY_OVER_BUDGET') ? ' hot' : ''));
    cell(row, money(a.projected_hourly_budget_micros), 'num budget');
    cell(row, a.top_tool ? (a.top_tool + ' ' + percent(a.top_tool_share)) : '–',
      'top-tool' + (triggers.has('TRIGGER_TOOL_CONCENTRATION') ? ' hot' : ''));
    cell(row, percent(a.cap_utilization_7d), 'num cap-utilization' + (triggers.has('TRIGGER_CAP_UTILIZATION_HIGH') ? ' hot' : ''));
    const badges = cell(row, '', 'triggers');
    for (const t of a.triggers) {
      const b = document.createElement('span');
      b.className = 'badge';
      b.dataset.trigger = t;
      b.textContent = TRIGGER_LABELS[t] || t;
      badges.appendChild(b);
    }
    body.appendChild(row);
  }
  text('fleet-count', fleet.total_count + ' agents');
  state.pageTokens[state.page + 1] = fleet.next_page_token;
  document.getElementById('fleet-next').disabled = !fleet.next_page_token;
  document.getElementById('fleet-prev').disabled = state.page === 0;
  document.body.dataset.loaded = 'fleet';
}

function hhmm(ts) { return ts.substring(11, 16); }

async function loadAgent(agentId) {
  const id = encodeURIComponent(agentId);
  const [cpt, vel, tools, caps, retry, minutes, trend] = await Promise.all([
    api('/v1/agents/' + id + '/cost-per-task'),
    api('/v1/agents/' + id + '/velocity'),
    api('/v1/tools?agent_id=' + id),
    api('/v1/agents/' + id + '/cap-utilization'),
    api('/v1/retry-cost?agent_id=' + id),
    api('/v1/agents/' + id + '/series?metric=SPEND&step_seconds=60&start_time=' + minuteAgo(59) + '&end_time=' + minuteAgo(-1)),
    api('/v1/agents/' + id + '/series?metric=COST_PER_TASK&step_seconds=86400&start_time=' + dayAgo(13) + '&end_time=' + dayAgo(-1))
  ]);
  text('agent-id', agentId);
  const fleetRow = await api('/v1/fleet?agent_id=' + id).then(f => (f.agents || []).find(a => a.agent_id === agentId));
  text('agent-handle', fleetRow ? fleetRow.handle : '');
  const alerts = document.getElementById('agent-alerts');
  alerts.href = state.alertsUrl + (state.alertsUrl.includes('?') ? '&' : '?') + 'agent=' + id;

  text('cpt-current', money(cpt.current.average_micros));
  text('cpt-previous', money(cpt.previous.average_micros));
  text('cpt-change', cpt.has_change ? Number(cpt.change_percent).toFixed(1) + '%' : '–');
  text('cpt-p50', money(cpt.current.p50_micros));
  text('cpt-p90', money(cpt.current.p90_micros));
  text('cpt-max', money(cpt.current.max_micros));
  text('cpt-open', cpt.open_task_count);
  text('cpt-open-cost', money(cpt.open_task_micros));

  const hour = vel.windows.find(w => w.minutes === 60);
  text('vel-hour', money(hour.per_hour_micros) + ' / h');
  text('vel-minute', money(hour.per_minute_micros));
  text('vel-budget', money(vel.projected_hourly_budget_micros));
  text('vel-source', vel.budget_source.replace('BUDGET_SOURCE_', '').toLowerCase().replace('_', ' '));
  text('vel-over', vel.over_budget ? 'Over the projected hourly budget' : 'Within the projected hourly budget');

  text('retry-share', percent(retry.retry_spend_share));
  text('retry-rate', percent(retry.retry_rate));

  const toolBody = document.querySelector('#tools tbody');
  toolBody.replaceChildren();
  for (const t of tools.tools) {
    const row = document.createElement('tr');
    row.dataset.tool = t.tool;
    cell(row, t.tool || '(agent payments)');
    cell(row, money(t.spend_micros), 'num spend');
    cell(row, percent(t.share), 'num share');
    cell(row, t.call_count, 'num');
    cell(row, t.decline_count, 'num');
    toolBody.appendChild(row);
  }

  text('util-7d', caps.has_daily_cap ? percent(caps.average_utilization_7d) : 'no daily cap');
  text('util-14d', caps.has_daily_cap ? percent(caps.average_utilization_14d) : 'no daily cap');
  text('util-over', caps.has_daily_cap ? String(caps.days_over_80_percent_7d) : '–');

  clearCharts();
  state.charts.push(new Chart(document.getElementById('velocity-chart'), {
    type: 'bar',
    data: { labels: minutes.points.map(p => hhmm(p.start_time)),
      datasets: [{ label: 'spend per minute (USD)', data: minutes.points.map(p => Number(p.value_micros) / 1e6) }] },
    options: { animation: false, maintainAspectRatio: false }
  }));
  state.charts.push(new Chart(document.getElementById('tools-chart'), {
    type: 'doughnut',
    data: { labels: tools.tools.map(t => t.tool || '(agent payments)'),
      datasets: [{ data: tools.tools.map(t => Number(t.spend_micros) / 1e6) }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } }
  }));
  state.charts.push(new Chart(document.getElementById('cpt-chart'), {
    type: 'line',
    data: { labels: trend.points.map(p => p.start_time.substring(0, 10)),
      datasets: [{ label: 'average cost per completed task (USD)', data: trend.points.map(p => Number(p.value_micros) / 1e6) }] },
    options: { animation: false, maintainAspectRatio: false }
  }));
  const gauges = document.getElementById('gauges');
  gauges.replaceChildren();
  for (const c of caps.caps) {
    const box = document.createElement('div');
    box.className = 'gauge';
    box.dataset.window = c.window;
    const canvas = document.createElement('canvas');
    const caption = document.createElement('p');
    const used = Math.min(1, Number(c.utilization));
    caption.innerHTML = '';
    caption.textContent = c.window.replace('CAP_WINDOW_', '').toLowerCase() + (c.tool ? ' · ' + c.tool : '') + ': ';
    const value = document.createElement('span');
    value.className = 'utilization';
    value.textContent = percent(c.utilization);
    caption.appendChild(value);
    caption.appendChild(document.createTextNode(' of ' + money(c.limit_micros)));
    box.appendChild(canvas);
    box.appendChild(caption);
    gauges.appendChild(box);
    state.charts.push(new Chart(canvas, {
      type: 'doughnut',
      data: { labels: ['used', 'headroom'], datasets: [{ data: [used, 1 - used],
        backgroundColor: [used > 0.8 ? '#c62828' : '#2e7d32', '#e3e6ee'] }] },
      options: { animation: false, rotation: -90, circumference: 180, cutout: '70%',
        plugins: { legend: { display: false }, tooltip: { enabled: false } } }
    }));
  }
  document.body.dataset.loaded = 'agent';
}

function minuteAgo(n) {
  const d = new Date(Math.floor(Date.now() / 60000) * 60000 - n * 60000);
  return d.toISOString().replace('.000Z', 'Z');
}

function dayAgo(n) {
  const d = new Date(Math.floor(Date.now() / 86400000) * 86400000 - n * 86400000);
  return d.toISOString().replace('.000Z', 'Z');
}

async function route() {
  showError(null);
  document.body.dataset.loaded = '';
  const hash = location.hash || '#/';
  const agent = hash.match(/^#\/agent\/(.+)$/);
  document.getElementById('fleet-view').hidden = !!agent;
  document.getElementById('agent-view').hidden = !agent;
  text('token-state', token() ? 'token set' : 'no token');
  if (!token()) {
    showError(new Error('Paste the admin token above to see the numbers.'));
    return;
  }
  try {
    if (agent) {
      await loadAgent(decodeURIComponent(agent[1]));
    } else {
      await loadFleet();
    }
  } catch (e) {
    showError(e);
  }
}

document.addEventListener('DOMContentLoaded', async () => {
  try {
    const config = await fetch('/v1/dashboard-config').then(r => r.json());
    state.alertsUrl = config.alerts_url || state.alertsUrl;
  } catch (e) {
    // keep the default alerts address
  }
  document.getElementById('token-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const input = document.getElementById('token');
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    route();
  });
  document.getElementById('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    route();
  });
  document.getElementById('fleet-filters').addEventListener('submit', ev => {
    ev.preventDefault();
    state.pageTokens = [''];
    state.page = 0;
    loadFleet().catch(showError);
  });
  document.getElementById('fleet-next').addEventListener('click', () => { state.page++; loadFleet().catch(showError); });
  document.getElementById('fleet-prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); loadFleet().catch(showError); });
  window.addEventListener('hashchange', route);
  route();
});
