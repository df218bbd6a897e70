// Live event view: reads /api/v1/events and /api/v1/logs with the operator's token.
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const state = { token: null, timer: null };

  function tokenFromFragment() {
    const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
    if (match) {
      localStorage.setItem("opscope.token", decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return localStorage.getItem("opscope.token");
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function filters() {
    const form = new FormData(document.getElementById("filters"));
    const params = {};
    for (const [k, v] of form.entries()) if (v && k !== "pause") params[k] = v;
    return params;
  }

  async function get(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const resp = await fetch(url, { headers: { Authorization: "Bearer " + state.token } });
    if (resp.status === 401 || resp.status === 403) { showLogin(); throw new Error("token refused"); }
    if (!resp.ok) throw new Error(path + ": HTTP " + resp.status);
    return resp.json();
  }

  function renderEvents(items) {
    const body = document.querySelector("#events tbody");
    body.replaceChildren(...items.map((e) => {
      const tr = el("tr");
      tr.append(el("td", e.status, "st-" + e.status), el("td", e.severity, "sev sev-" + e.severity),
        el("td", e.name), el("td", e.entity), el("td", e.summary, "msg"), el("td", e.source),
        el("td", when(e.starts_at)), el("td", e.repeat_count ?? ""));
      return tr;
    }));
    document.getElementById("event-count").textContent = "(" + items.length + " newest)";
  }

  function renderLogs(items) {
    const body = document.querySelector("#logs tbody");
    body.replaceChildren(...items.map((r) => {
      const tr = el("tr");
      tr.append(el("td", when(r.ts)), el("td", r.level, "lvl-" + r.level), el("td", r.entity),
        el("td", r.message, "msg"));
      return tr;
    }));
    document.getElementById("log-count").textContent = "(" + items.length + " newest)";
  }

  async function refresh() {
    const status = document.getElementById("status");
    if (document.querySelector("[name=pause]").checked || !state.token) return;
    const f = filters();
    const logParams = { limit: 100 };
    if (f.source) logParams.source = f.source;
    if (f.entity) logParams.entity = f.entity;
    if (f.q) logParams.q = f.q;
    try {
      const [events, logs] = await Promise.all([
        get("/api/v1/events", Object.assign({ limit: 100 }, f)),
        get("/api/v1/logs", logParams),
      ]);
      renderEvents(events.items);
      renderLogs(logs.items);
      status.textContent = "updated " + new Date().toLocaleTimeString();
      status.className = "status";
    } catch (err) {
      status.textContent = String(err.message || err);
      status.className = "status err";
    }
  }

  function showLogin() {
    document.getElementById("login").hidden = false;
  }

  function start() {
    state.token = tokenFromFragment();
    if (!state.token) showLogin();
    document.getElementById("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      state.token = document.getElementById("token").value.trim();
      localStorage.setItem("opscope.token", state.token);
      document.getElementById("login").hidden = true;
      refresh();
    });
    document.getElementById("filters").addEventListener("input", refresh);
    refresh();
    state.timer = setInterval(refresh, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
