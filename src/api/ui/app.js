// jbproxy status page. Logs in with the admin key (kept in this tab's sessionStorage, sent as a header), polls
// /stats every 2 s (with /stats?scope=cluster when replicas share the pool through Redis) and /stats/traffic every
// 10 s, and calls the action endpoints. Every string from the server
// reaches the page through textContent or an attribute value, never as markup.
'use strict';
(() => {
  const REFRESH_MS = 2000;
  const TRAFFIC_MS = 10000;
  const HOUR_MS = 3600 * 1000;
  const KEY_NAME = 'jbproxy.adminKey';
  const SCOPE_NAME = 'jbproxy.scope';
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  const STATES = {
    healthy: ['healthy', 's-ok'],
    cooling: ['cooling (rate limited)', 's-warn'],
    probing: ['probing', 's-warn'],
    ejected: ['ejected', 's-bad'],
    exhausted: ['out of quota', 's-bad'],
    invalid: ['invalid JWT', 's-bad'],
    forbidden: ['forbidden (403), cooling', 's-bad'],
    suspended: ['suspended by JetBrains', 's-bad'],
    expired: ['expired', 's-bad'],
    disabled: ['disabled in config', 's-off'],
    'disabled-by-operator': ['disabled by operator', 's-off'],
  };

  let key = sessionStorage.getItem(KEY_NAME);
  let statsTimer = 0;
  let trafficTimer = 0;
  let downSince = null;
  let samples = [];
  let interval = 10;
  // The summary's scope in the shared mode: this replica's counters, or every replica's summed.
  let scope = sessionStorage.getItem(SCOPE_NAME) === 'cluster' ? 'cluster' : 'replica';
  const rows = new Map();

  class Failure extends Error {
    constructor(kind, message, status) {
      super(message);
      this.kind = kind;
      this.status = status;
    }
  }

  // Every request goes through here.
  async function api(path, method) {
    let response;
    try {
      response = await fetch(path, {
        method: method || 'GET',
        headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' },
        cache: 'no-store',
      });
    } catch (e) {
      throw new Failure('unreachable', 'the server cannot be reached');
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (response.status === 401) {
      throw new Failure('unauthorized', 'the key was refused (401)', 401);
    }
    if (!response.ok) {
      // A reverse proxy in front answers 502/504 when the server is down.
      if (!body && (response.status === 502 || response.status === 504)) {
        throw new Failure('unreachable', 'the server cannot be reached (HTTP ' + response.status + ')');
      }
      const message = body && body.error && body.error.message;
      throw new Failure('failed', message || 'HTTP ' + response.status, response.status);
    }
    return body;
  }

  // ---- small helpers ----
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function setText(node, text) {
    const value = text === null || text === undefined ? '' : String(text);
    if (node.textContent !== value) node.textContent = value;
  }
  function setAttr(node, name, value) {
    if (value === null || value === undefined) {
      if (node.hasAttribute(name)) node.removeAttribute(name);
    } else if (node.getAttribute(name) !== String(value)) {
      node.setAttribute(name, value);
    }
  }
  // `quota_exhausted` → `quota exhausted`: the server's class names, readable and wrappable.
  function words(name) {
    return String(name).replace(/_/g, ' ');
  }
  function num(n, digits) {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function span(seconds) {
    const s = Math.round(Math.abs(seconds));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.round(s / 60) + ' min';
    if (s < 48 * 3600) return (s < 36000 ? Math.round(s / 360) / 10 : Math.round(s / 3600)) + ' h';
    return Math.round(s / 86400) + ' d';
  }
  function uptime(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    if (h >= 48) return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
    if (h > 0) return h + ' h ' + m + ' min';
    return m > 0 ? m + ' min' : Math.floor(seconds) + ' s';
  }
  function when(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return null;
    return date;
  }
  // "in 3 h" / "12 s ago", from the viewer's clock.
  function relative(iso) {
    const date = when(iso);
    if (!date) return '';
    const ms = date.getTime() - Date.now();
    if (Math.abs(ms) < 1000) return 'now';
    return ms > 0 ? 'in ' + span(ms / 1000) : span(ms / 1000) + ' ago';
  }
  // Local time: the time alone today, with the date otherwise.
  function local(iso) {
    const date = when(iso);
    if (!date) return '';
    const today = date.toDateString() === new Date().toDateString();
    return today
      ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : date.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }
  function full(iso) {
    const date = when(iso);
    return date ? date.toLocaleString() : null;
  }

  // ---- views ----
  function showLogin(message) {
    clearTimeout(statsTimer);
    clearTimeout(trafficTimer);
    $('dash').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    setText($('conn'), 'Not logged in');
    $('conn').classList.remove('down');
    setText($('login-error'), message || '');
    $('key').focus();
  }
  function showDash() {
    $('login').hidden = true;
    $('dash').hidden = false;
    $('logout').hidden = false;
  }

  function reachable() {
    downSince = null;
    $('banner').hidden = true;
    $('dash').classList.remove('stale');
    $('conn').classList.remove('down');
    setText($('conn'), 'Live · updated ' + new Date().toLocaleTimeString());
  }
  function unreachable() {
    if (!downSince) downSince = new Date();
    const text = 'Server unreachable since ' + downSince.toLocaleTimeString() + ' (' +
      span((Date.now() - downSince.getTime()) / 1000) + '). Showing the last data received; retrying every ' +
      REFRESH_MS / 1000 + ' s.';
    setText($('banner'), text);
    $('banner').hidden = false;
    $('dash').classList.add('stale');
    $('conn').classList.add('down');
    setText($('conn'), 'Server unreachable');
  }
  function failed(error) {
    if (error.kind === 'unauthorized') {
      key = null;
      sessionStorage.removeItem(KEY_NAME);
      showLogin('The server refused the key (401): it may have changed with a reload. Log in again.');
      return true;
    }
    if (error.kind === 'unreachable') unreachable();
    return false;
  }

  // ---- the shared mode: /stats?scope=cluster ----
  function renderCluster(cluster) {
    const body = $('replicas').tBodies[0];
    body.replaceChildren();
    for (const r of cluster.replicas || []) {
      const tr = el('tr');
      tr.appendChild(el('td', null, r.id + (r.this ? ' (this one)' : '')));
      tr.appendChild(el('td', null, num(r.inflight, 0)));
      tr.appendChild(el('td', null, r.address || '–'));
      tr.appendChild(el('td', null, span((r.last_seen_ms_ago || 0) / 1000) + ' ago'));
      body.appendChild(tr);
    }
    if (scope !== 'cluster') return;
    const tokens = cluster.tokens || [];
    const sum = (field) => tokens.reduce((n, t) => n + (t[field] || 0), 0);
    setText($('t-usable'), tokens.filter((t) => t.usable).length + ' / ' + tokens.length);
    setText($('t-requests'), num(sum('requests'), 0));
    setText($('t-successes'), num(sum('successes'), 0));
    setText($('t-failures'), num(sum('failures'), 0));
    setText($('t-inflight'), num(sum('inflight'), 0));
  }
  async function refreshCluster(stats) {
    const shared = Boolean(stats.state) && stats.state !== 'memory';
    $('scope-label').hidden = !shared;
    $('replicas-section').hidden = !shared;
    if (!shared) return;
    try {
      renderCluster(await api('stats?scope=cluster'));
      setText($('replicas-error'), '');
    } catch (error) {
      if (error.kind !== 'failed') throw error;
      // Redis away: this replica's own view stands; say why the others are missing.
      setText($('replicas-error'), error.message);
    }
  }

  // ---- polling ----
  async function refresh() {
    clearTimeout(statsTimer);
    if (!key) return;
    if (!document.hidden) {
      try {
        const stats = await api('stats');
        renderStats(stats);
        await refreshCluster(stats);
        reachable();
      } catch (error) {
        if (failed(error)) return;
      }
    }
    statsTimer = setTimeout(refresh, REFRESH_MS);
  }
  async function refreshTraffic() {
    clearTimeout(trafficTimer);
    if (!key) return;
    if (!document.hidden) {
      try {
        const since = samples.length ? samples[samples.length - 1].at_ms : 0;
        const traffic = await api('stats/traffic?since=' + since);
        interval = traffic.interval_secs || interval;
        samples = samples.concat(traffic.samples || []);
        // A restarted server starts a new series; keep only the last hour of the server's clock.
        const horizon = (traffic.now_ms || Date.now()) - HOUR_MS;
        samples = samples.filter((s) => s.at_ms > horizon);
        renderCharts(traffic.now_ms || Date.now());
        renderModels(traffic.models || []);
      } catch (error) {
        if (failed(error)) return;
      }
    }
    trafficTimer = setTimeout(refreshTraffic, TRAFFIC_MS);
  }
  function start() {
    showDash();
    refresh();
    refreshTraffic();
  }

  // ---- /stats ----
  function renderStats(stats) {
    const tokens = stats.tokens || [];
    const totals = stats.totals || {};
    let failures = 0;
    for (const t of tokens) {
      for (const n of Object.values(t.failures || {})) failures += n;
    }
    setText($('t-usable'), totals.usable + ' / ' + totals.tokens);
    setText($('t-requests'), num(totals.requests, 0));
    setText($('t-successes'), num(totals.successes, 0));
    setText($('t-failures'), num(failures, 0));
    setText($('t-inflight'), num(totals.inflight, 0));
    setText($('t-strategy'), stats.strategy + (stats.priority_mode ? ' · ' + stats.priority_mode : ''));
    setText($('t-uptime'), uptime(stats.uptime_secs || 0));
    setText($('t-reloads'), stats.reloads ? stats.reloads.succeeded + ' / ' + stats.reloads.failed : 'n/a (demo)');
    $('reload').disabled = !stats.reloads;
    setAttr($('reload'), 'title', stats.reloads ? null : 'the demo has no config file to reload');

    const body = $('tokens').tBodies[0];
    const seen = new Map();
    const order = [];
    for (const t of tokens) {
      // Keyed by fingerprint (with a count, should one JWT be listed twice), so rows are updated in place.
      const n = (seen.get(t.fingerprint) || 0) + 1;
      seen.set(t.fingerprint, n);
      const id = t.fingerprint + '#' + n;
      let row = rows.get(id);
      if (!row) {
        row = buildRow();
        rows.set(id, row);
      }
      fillRow(row, t);
      order.push(row.tr);
    }
    for (const [id, row] of rows) {
      if (!order.includes(row.tr)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    order.forEach((tr, i) => {
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
  }

  function cell(tr, label, cls) {
    const td = el('td', cls);
    td.dataset.label = label;
    tr.appendChild(td);
    const box = el('div');
    td.appendChild(box);
    return box;
  }
  function buildRow() {
    const tr = el('tr');
    const r = { tr };
    let c = cell(tr, 'Token');
    r.name = c.appendChild(el('span', 'name'));
    r.fingerprint = c.appendChild(el('code', 'sub'));
    r.weight = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'State');
    r.state = c.appendChild(el('span', 'state'));
    r.until = c.appendChild(el('span', 'until'));
    r.reason = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'Quota');
    r.meter = c.appendChild(el('meter'));
    r.quota = c.appendChild(el('span'));
    r.quotaUsed = c.appendChild(el('span', 'sub'));
    r.reset = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'Expires');
    r.expires = c.appendChild(el('span'));
    r.refresh = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'Requests');
    r.requests = c.appendChild(el('span'));
    r.failures = c.appendChild(el('span', 'sub'));
    r.used = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'Latency');
    r.latency = c.appendChild(el('span'));
    c = cell(tr, 'Last check');
    r.check = c.appendChild(el('span'));
    r.checkError = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'Last error');
    r.error = c.appendChild(el('span'));
    r.errorMeaning = c.appendChild(el('span', 'sub'));
    c = cell(tr, 'Actions', 'cell-actions');
    r.toggle = c.appendChild(el('button'));
    r.toggle.type = 'button';
    r.check_button = c.appendChild(el('button', null, 'Check now'));
    r.check_button.type = 'button';
    r.check_button.dataset.action = 'check';
    return r;
  }

  function fillRow(r, t) {
    setText(r.name, t.name);
    setText(r.fingerprint, t.fingerprint);
    setText(r.weight, 'priority ' + t.priority + ' · weight ' + t.weight);

    const [word, cls] = STATES[t.state] || [t.state, 's-warn'];
    setText(r.state, word);
    setAttr(r.state, 'class', 'state ' + cls);
    // Inline after the state word, so it reads "out of quota until 14:00 (in 3 h)".
    setText(r.until, t.until ? ' until ' + local(t.until) + ' (' + relative(t.until) + ')' : '');
    setAttr(r.until, 'title', t.until ? full(t.until) : null);
    setText(r.reason, t.state === 'healthy' ? '' : t.reason);

    const q = t.quota;
    r.meter.hidden = !q;
    if (q) {
      const max = q.maximum > 0 ? q.maximum : 1;
      setAttr(r.meter, 'max', max);
      setAttr(r.meter, 'value', Math.min(q.used, max));
      setAttr(r.meter, 'low', max * 0.7);
      setAttr(r.meter, 'high', max * 0.9);
      setAttr(r.meter, 'optimum', 0);
      setAttr(r.meter, 'aria-label', 'quota used for ' + t.name);
      setText(r.quota, num(q.left) + ' left');
      setText(r.quotaUsed, num(q.used) + ' of ' + num(q.maximum) + ' used');
      setText(r.reset, q.resets_at ? 'resets ' + local(q.resets_at) + ' (' + relative(q.resets_at) + ')' : '');
      setAttr(r.reset, 'title', q.resets_at ? full(q.resets_at) : null);
    } else {
      setText(r.quota, 'not reported yet');
      setText(r.quotaUsed, '');
      setText(r.reset, '');
    }

    if (t.expires_at) {
      const past = when(t.expires_at) && when(t.expires_at).getTime() <= Date.now();
      setText(r.expires, (past ? 'expired ' : '') + relative(t.expires_at));
      setAttr(r.expires, 'title', full(t.expires_at));
      setText(r.refresh, local(t.expires_at) + (t.refreshable ? ' · refreshable' : ''));
    } else {
      setText(r.expires, 'no expiry claim');
      setText(r.refresh, t.refreshable ? 'refreshable' : '');
    }

    setText(r.requests, num(t.requests, 0) + (t.requests === 1 ? ' request · ' : ' requests · ') +
      num(t.successes, 0) + ' ok · ' + num(t.inflight, 0) + ' in flight');
    const kinds = Object.entries(t.failures || {}).filter(([, n]) => n > 0).map(([k, n]) => words(k) + ' ' + n);
    setText(r.failures, kinds.length ? 'failed: ' + kinds.join(' · ') : 'no failures');
    setText(r.used, t.last_used ? 'last used ' + relative(t.last_used) : 'not used yet');

    setText(r.latency, t.avg_latency_ms === null || t.avg_latency_ms === undefined
      ? '–' : 'avg ' + num(t.avg_latency_ms, 0) + ' ms');

    const lc = t.last_check;
    setText(r.check, lc ? words(lc.result) + ' · ' + relative(lc.at) : 'none yet');
    setAttr(r.check, 'title', lc ? full(lc.at) : null);
    setText(r.checkError, lc && lc.error ? lc.error : '');

    const le = t.last_error;
    setText(r.error, le ? words(le.kind) + ' · ' + relative(le.at) : 'none');
    setAttr(r.error, 'title', le ? full(le.at) : null);
    setText(r.errorMeaning, le ? le.message : '');

    const off = t.state === 'disabled-by-operator';
    const action = off ? 'enable' : 'disable';
    setText(r.toggle, off ? 'Enable' : 'Disable');
    r.toggle.dataset.action = action;
    r.toggle.dataset.token = t.fingerprint;
    r.toggle.dataset.name = t.name;
    r.toggle.disabled = t.state === 'disabled';
    setAttr(r.toggle, 'title', t.state === 'disabled' ? 'disabled in the config file' : null);
    setAttr(r.toggle, 'aria-label', (off ? 'Enable' : 'Disable') + ' token ' + t.name);
    r.check_button.dataset.token = t.fingerprint;
    r.check_button.dataset.name = t.name;
    setAttr(r.check_button, 'aria-label', 'Check token ' + t.name + ' now');
  }

  // ---- /stats/traffic ----
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) {
      if (value <= step * power) return step * power;
    }
    return 10 * power;
  }
  // Consecutive known points; a gap where samples are missing (the server was down) or a value is unknown.
  function runs(points) {
    const out = [];
    let run = [];
    let prev = null;
    for (const [t, v] of points) {
      if (v === null || v === undefined || (prev !== null && t - prev > interval * 2500)) {
        if (run.length) out.push(run);
        run = [];
      }
      if (v !== null && v !== undefined) run.push([t, v]);
      prev = t;
    }
    if (run.length) out.push(run);
    return out;
  }
  // One line (and optionally the area under it) per series, from `start` to `nowMs`, scaled to the series' peak.
  function drawChart(svg, series, start, nowMs) {
    const spanMs = Math.max(nowMs - start, 1);
    let peak = 0;
    for (const s of series) {
      for (const [, v] of s.points) if (v !== null && v > peak) peak = v;
    }
    const max = niceMax(peak);
    const x = (t) => Math.max(0, (t - start) / spanMs * 360).toFixed(1);
    const y = (v) => (100 - (v / max) * 96).toFixed(1);
    const nodes = [];
    for (const s of series) {
      let line = '';
      let area = '';
      for (const run of runs(s.points)) {
        const coords = run.map(([t, v]) => x(t) + ' ' + y(v)).join('L');
        // A lone sample is drawn as a short dash so it shows.
        const tail = run.length === 1 ? 'L' + (Number(x(run[0][0])) + 2) + ' ' + y(run[0][1]) : '';
        line += 'M' + coords + tail;
        area += 'M' + x(run[0][0]) + ' 100L' + coords + 'L' + x(run[run.length - 1][0]) + ' 100Z';
      }
      if (s.area && area) nodes.push(path(area, 'area'));
      if (line) nodes.push(path(line, 'line ' + (s.cls || '')));
    }
    const top = document.createElementNS(SVG, 'line');
    for (const [k, v] of [['x1', 0], ['x2', 360], ['y1', 4], ['y2', 4], ['class', 'peak'], ['vector-effect', 'non-scaling-stroke']]) {
      top.setAttribute(k, v);
    }
    svg.replaceChildren(top, ...nodes);
    return max;
  }
  function path(d, cls) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    p.setAttribute('class', cls);
    p.setAttribute('vector-effect', 'non-scaling-stroke');
    return p;
  }
  function latest(points) {
    for (let i = points.length - 1; i >= 0; i--) if (points[i][1] !== null) return points[i][1];
    return null;
  }
  function renderCharts(nowMs) {
    // The last hour, or since the first sample when the server is younger (at least 2 min), so a fresh server's
    // charts are not a sliver at the right edge.
    const first = samples.length ? samples[0].at_ms - samples[0].secs * 1000 : nowMs;
    const start = Math.max(nowMs - HOUR_MS, Math.min(first, nowMs - 2 * 60 * 1000));
    setText($('c-axis-start'), span((nowMs - start) / 1000) + ' ago');
    const rate = samples.map((s) => [s.at_ms, s.secs > 0 ? s.requests / s.secs : 0]);
    const errors = samples.map((s) => [s.at_ms, s.requests > 0 ? (100 * s.errors) / s.requests : 0]);
    const p50 = samples.map((s) => [s.at_ms, s.latency_p50_ms]);
    const p99 = samples.map((s) => [s.at_ms, s.latency_p99_ms]);
    const charts = [
      ['c-rate', [{ points: rate, area: true }], '/s', 'Requests per second'],
      ['c-errors', [{ points: errors, cls: 'errors', area: true }], '%', 'Errors, percent of requests'],
      ['c-latency', [{ points: p50 }, { points: p99, cls: 'p99' }], ' ms', 'Latency p50 and p99, milliseconds'],
    ];
    for (const [id, series, unit, title] of charts) {
      const max = drawChart($(id), series, start, nowMs);
      const now = latest(series[series.length - 1].points);
      const other = series.length > 1 ? latest(series[0].points) : null;
      const summary = samples.length === 0
        ? 'no samples yet (one every ' + interval + ' s)'
        : 'latest ' + (other !== null ? num(other) + ' / ' : '') + (now === null ? '–' : num(now)) + unit +
          ' · scale 0–' + num(max) + unit;
      setText($(id + '-now'), '(' + summary + ')');
      setAttr($(id), 'aria-label', title + ' over the last ' + span((nowMs - start) / 1000) + ': ' + summary);
    }
  }
  function renderModels(unsorted) {
    const models = unsorted.slice().sort((a, b) => b.requests - a.requests || (a.model < b.model ? -1 : 1));
    const body = $('models').tBodies[0];
    const total = models.reduce((sum, m) => sum + m.requests, 0);
    const trs = models.map((m) => {
      const tr = el('tr');
      tr.appendChild(el('td', null, m.model));
      tr.appendChild(el('td', null, num(m.requests, 0)));
      const share = el('td');
      const meter = el('meter');
      meter.max = total || 1;
      meter.value = m.requests;
      meter.setAttribute('aria-label', 'share of ' + m.model);
      share.appendChild(meter);
      tr.appendChild(share);
      return tr;
    });
    body.replaceChildren(...trs);
    $('models-empty').hidden = models.length > 0;
    $('models').hidden = models.length === 0;
  }

  // ---- actions ----
  async function act(button, path, describe) {
    const result = $('action-result');
    button.disabled = true;
    setText(result, 'Working…');
    result.className = 'action-result';
    try {
      const body = await api(path, 'POST');
      setText(result, describe(body));
      result.className = 'action-result done';
      reachable();
    } catch (error) {
      if (failed(error)) return;
      setText(result, error.kind === 'unreachable' ? 'Not done: the server cannot be reached.' : 'Failed: ' + error.message);
      result.className = 'action-result failed';
    } finally {
      button.disabled = false;
    }
    refresh();
  }

  $('tokens').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    const { action, token, name } = button.dataset;
    const path = 'tokens/' + encodeURIComponent(token) + '/' + action;
    act(button, path, (body) => {
      if (action === 'check') {
        const lc = body.token && body.token.last_check;
        return 'Checked ' + name + ': ' + (lc ? lc.result + (lc.error ? ' (' + lc.error + ')' : '') : 'done') + '.';
      }
      if (action === 'disable') {
        return name + ' is disabled: it takes no new requests until you enable it or the config is reloaded.';
      }
      return name + ' is enabled again.';
    });
  });
  $('check-all').addEventListener('click', (event) => {
    act(event.currentTarget, 'check', (body) => 'Checked ' + body.checked + ' tokens: ' + body.usable + ' usable.');
  });
  $('reload').addEventListener('click', (event) => {
    act(event.currentTarget, 'reload', (body) => {
      const s = body.summary || {};
      let text = 'Config reloaded: ' + s.tokens + ' tokens (' + s.kept_state + ' kept their state), strategy ' +
        s.strategy + '.';
      if (s.needs_restart && s.needs_restart.length) {
        text += ' Needs a restart to take effect: ' + s.needs_restart.join(', ') + '.';
      }
      return text;
    });
  });

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('key');
    const candidate = input.value.trim();
    // The key leaves the DOM at once; from here it lives in sessionStorage and this closure only.
    input.value = '';
    if (!candidate) return;
    key = candidate;
    try {
      const stats = await api('stats');
      sessionStorage.setItem(KEY_NAME, key);
      setText($('login-error'), '');
      showDash();
      renderStats(stats);
      reachable();
      statsTimer = setTimeout(refresh, REFRESH_MS);
      refreshTraffic();
    } catch (error) {
      key = null;
      setText($('login-error'), error.kind === 'unauthorized'
        ? 'That key was refused (401). Use admin_token from the config, or the client key when it is not set.'
        : 'Cannot log in: ' + error.message + '.');
    }
  });
  $('scope').value = scope;
  $('scope').addEventListener('change', () => {
    scope = $('scope').value === 'cluster' ? 'cluster' : 'replica';
    sessionStorage.setItem(SCOPE_NAME, scope);
    refresh();
  });
  $('logout').addEventListener('click', () => {
    key = null;
    sessionStorage.removeItem(KEY_NAME);
    showLogin('Logged out.');
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && key) {
      refresh();
      refreshTraffic();
    }
  });

  if (key) {
    start();
  } else {
    showLogin();
  }
})();
