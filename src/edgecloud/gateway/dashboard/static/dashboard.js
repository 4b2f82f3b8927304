// The edgecloud dashboard: one EventSource on /dashboard/events, one snapshot a second. Every value is
// written with textContent (never as markup), so nothing a client sends (model names, metadata, prompt
// text) can run as script; the page's Content-Security-Policy allows no inline script besides.
"use strict";

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const HISTORY = 120; // seconds of per-tier history kept for the line charts
const history = [];
const csrf = document.querySelector('meta[name="edgecloud-csrf"]').content;
let snapshots = 0;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function fmt(value, digits = 1) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function colourOf(name, names) {
  return COLOURS[Math.max(0, names.indexOf(name)) % COLOURS.length];
}

function defs(dl, pairs) {
  dl.replaceChildren();
  for (const [term, value] of pairs) {
    dl.append(el("dt", term), el("dd", value));
  }
}

function renderTiers(snap) {
  const box = document.getElementById("tiers");
  box.replaceChildren();
  for (const [name, t] of Object.entries(snap.tiers)) {
    const card = el("article", null, "card" + (t.available ? "" : " down"));
    card.dataset.tier = name;
    const state = t.offline_by ? "offline (" + t.offline_by + ")" : t.available ? "up" : "down: " + t.reason_down;
    card.append(el("h2", name + " · " + (t.model || "?")), el("p", state, "state"));
    const dl = el("dl");
    defs(dl, [
      ["requests/s", fmt(t.requests_per_s, 2)],
      ["tokens/s", fmt(t.tokens_per_s, 1)],
      ["TTFT p50 / p95 ms", fmt(t.ttft_p50_ms) + " / " + fmt(t.ttft_p95_ms)],
      ["end-to-end p50 / p95 ms", fmt(t.e2e_p50_ms) + " / " + fmt(t.e2e_p95_ms)],
      ["queue", t.queue_depth],
      ["answers in the last minute", t.requests],
      ["5xx in the last minute", t.errors],
      ["spend this period", fmt(t.spend, 4)],
    ]);
    card.append(dl);
    const button = el("button", t.offline_by ? "bring online" : "take offline");
    button.type = "button";
    button.dataset.action = t.offline_by ? "online" : "offline";
    button.addEventListener("click", () => send({ action: button.dataset.action, tier: name }));
    card.append(button);
    box.append(card);
  }
}

function lineChart(canvas, series, names, maxHint) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  let max = maxHint || 0;
  for (const values of Object.values(series)) for (const v of values) if (v !== null) max = Math.max(max, v);
  max = max || 1;
  ctx.strokeStyle = "#ccd"; ctx.fillStyle = "#555"; ctx.font = "10px sans-serif";
  ctx.beginPath(); ctx.moveTo(pad, 4); ctx.lineTo(pad, h - 14); ctx.lineTo(w - 4, h - 14); ctx.stroke();
  ctx.fillText(max.toPrecision(3), 2, 12); ctx.fillText("0", 2, h - 14);
  for (const [name, values] of Object.entries(series)) {
    ctx.strokeStyle = colourOf(name, names); ctx.lineWidth = 2; ctx.beginPath();
    let started = false;
    values.forEach((v, i) => {
      if (v === null) { started = false; return; }
      const x = pad + (i / Math.max(1, HISTORY - 1)) * (w - pad - 6);
      const y = h - 14 - (v / max) * (h - 22);
      if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
    });
    ctx.stroke();
    ctx.fillStyle = colourOf(name, names);
    ctx.fillText(name, w - 60, 14 + 12 * names.indexOf(name));
  }
}

function stackedBars(canvas, placements) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const policies = Object.keys(placements.series);
  const n = placements.seconds.length;
  const totals = placements.seconds.map((_, i) => policies.reduce((s, p) => s + placements.series[p][i], 0));
  const max = Math.max(1, ...totals);
  const bw = (w - pad - 4) / n;
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.fillText(String(max), 2, 12); ctx.fillText("0", 2, h - 14);
  for (let i = 0; i < n; i++) {
    let y = h - 14;
    for (const p of policies) {
      const v = placements.series[p][i];
      if (!v) continue;
      const bh = (v / max) * (h - 22);
      ctx.fillStyle = colourOf(p, policies);
      ctx.fillRect(pad + i * bw, y - bh, Math.max(1, bw - 1), bh);
      y -= bh;
    }
  }
  const legend = document.getElementById("policy-legend");
  legend.replaceChildren();
  for (const p of policies) {
    const item = el("span");
    const swatch = el("i"); swatch.style.background = colourOf(p, policies);
    item.append(swatch, document.createTextNode(p + " " + placements.series[p].reduce((a, b) => a + b, 0)));
    legend.append(item);
  }
}

function renderCharts(snap) {
  const names = Object.keys(snap.tiers);
  history.push(snap);
  while (history.length > HISTORY) history.shift();
  const pad = Array(HISTORY - history.length).fill(null);
  const rate = {}, ttft = {};
  for (const name of names) {
    rate[name] = pad.concat(history.map((s) => (s.tiers[name] ? s.tiers[name].requests_per_s : null)));
    ttft[name] = pad.concat(history.map((s) => (s.tiers[name] ? s.tiers[name].ttft_p95_ms : null)));
  }
  lineChart(document.getElementById("chart-rate"), rate, names);
  lineChart(document.getElementById("chart-ttft"), ttft, names);
  stackedBars(document.getElementById("chart-policy"), snap.placements);
}

function renderTables(snap) {
  const ups = document.querySelector("#upstreams tbody");
  ups.replaceChildren();
  for (const u of snap.upstreams) {
    const row = el("tr");
    for (const v of [u.name, u.tier, u.up ? "up" : "down", u.breaker, u.queue_depth, u.in_flight, fmt(u.rtt_ms, 2), u.last_error || ""]) {
      row.append(el("td", v));
    }
    ups.append(row);
  }
  const body = document.querySelector("#decisions tbody");
  body.replaceChildren();
  for (const d of snap.decisions) {
    const row = el("tr");
    const time = new Date(d.time * 1000).toLocaleTimeString();
    const cells = [time, d.model, d.tier, d.policy, d.reason, d.status, fmt(d.ttft_ms), d.tokens, d.prompt || ""];
    cells.forEach((v, i) => row.append(el("td", v, i === 4 ? "reason" : undefined)));
    body.append(row);
  }
  const controls = document.getElementById("controls");
  controls.replaceChildren();
  for (const c of snap.controls) {
    const what = c.action === "threshold" ? c.policy + " threshold " + c.before + " → " + c.after : c.action + " " + c.tier;
    controls.append(el("li", new Date(c.time * 1000).toLocaleTimeString() + " · " + c.who + " · " + what));
  }
}

function renderPanels(snap) {
  defs(document.getElementById("escalation"), [
    ["cascade escalations", snap.escalation_share === null ? "–" : (100 * snap.escalation_share).toFixed(1) + "%"],
    ["router → cloud", snap.router_cloud_share === null ? "–" : (100 * snap.router_cloud_share).toFixed(1) + "%"],
    ["policy chain", snap.policies.join(" → ")],
  ]);
  const spend = document.getElementById("spend");
  spend.replaceChildren();
  const s = snap.spend;
  spend.append(el("p", s.tier + ": " + fmt(s.spent, 4) + (s.budget === null ? " (no budget set)" : " of " + s.budget)));
  if (s.budget) {
    const bar = el("div", null, "bar"), fill = el("div");
    fill.style.width = Math.min(100, (100 * s.spent) / s.budget) + "%";
    bar.append(fill);
    spend.append(bar);
  }
  const form = document.getElementById("thresholds");
  if (form.dataset.built !== Object.keys(snap.thresholds).join(",")) {
    form.replaceChildren();
    for (const [policy, value] of Object.entries(snap.thresholds)) {
      const label = el("label", policy + " ");
      const input = el("input");
      input.type = "number"; input.step = "any"; input.name = policy; input.value = value;
      const apply = el("button", "apply");
      apply.type = "button";
      apply.addEventListener("click", () => send({ action: "threshold", policy, value: Number(input.value) }));
      label.append(input, apply);
      form.append(label, el("br"));
    }
    form.dataset.built = Object.keys(snap.thresholds).join(",");
  }
}

async function send(body) {
  const error = document.getElementById("control-error");
  error.textContent = "";
  const response = await fetch("/dashboard/control", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "x-edgecloud-csrf": csrf },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    error.textContent = (data.error && data.error.message) || "HTTP " + response.status;
  }
}

function render(snap) {
  renderTiers(snap);
  renderCharts(snap);
  renderTables(snap);
  renderPanels(snap);
  snapshots += 1;
  document.body.dataset.snapshots = String(snapshots);
  const status = document.getElementById("status");
  status.textContent = "live · " + new Date(snap.time * 1000).toLocaleTimeString() + " · " + snap.watchers + " watching";
  status.className = "status live";
}

function connect() {
  const source = new EventSource("/dashboard/events");
  source.onmessage = (event) => render(JSON.parse(event.data));
  source.onerror = () => {
    const status = document.getElementById("status");
    status.textContent = "reconnecting…";
    status.className = "status lost";
  };
}

connect();
