// Shared by every page: the operator's token, API reads and writes, small DOM and SVG
// helpers, the refresh loop. Data is always set as text, never parsed as markup.
(function () {
  "use strict";
  const state = { token: null };
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEVERITIES = ["critical", "error", "warning", "info"];

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

  // An SVG element with attributes; its text, if any, goes in as a text node.
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function link(text, href, cls) {
    const a = el("a", text, cls);
    a.href = href;
    return a;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  // Time of day for today, date and time otherwise.
  function short(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d)) return iso || "";
    return d.toDateString() === new Date().toDateString()
      ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function ago(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d)) return "";
    const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return (s / 3600).toFixed(1) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }

  function severityRank(severity) {
    const i = SEVERITIES.indexOf(severity);
    return i < 0 ? SEVERITIES.length : i;
  }

  // A placeholder row or paragraph saying why a list is empty.
  function emptyRow(table, text) {
    const cols = table.querySelectorAll("thead th").length || 1;
    const td = el("td", text, "muted empty");
    td.colSpan = cols;
    const tr = el("tr");
    tr.append(td);
    table.querySelector("tbody").replaceChildren(tr);
  }

  function showLogin() {
    document.getElementById("login").hidden = false;
  }

  async function call(method, path, params, body) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
      else if (v !== "" && v !== undefined && v !== null) url.searchParams.set(k, v);
    }
    const headers = { Authorization: "Bearer " + state.token };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    if (!resp.ok) {
      let message = path + ": HTTP " + resp.status;
      if (resp.status === 401) { showLogin(); message = "token refused: give a valid token"; }
      if (resp.status === 403) message = "this token lacks the scope for " + path;
      const err = new Error(message);
      err.status = resp.status;
      throw err;
    }
    return resp.json();
  }

  function get(path, params) { return call("GET", path, params); }
  function post(path, body) { return call("POST", path, undefined, body || {}); }

  function filters() {
    const form = document.getElementById("filters");
    const params = {};
    if (!form) return params;
    for (const [k, v] of new FormData(form).entries()) if (v && k !== "pause") params[k] = v;
    return params;
  }

  function paused() {
    const box = document.querySelector("[name=pause]");
    return Boolean(box && box.checked);
  }

  function setStatus(text, isError) {
    const status = document.getElementById("status");
    status.textContent = text;
    status.className = isError ? "status err" : "status";
  }

  function start(refresh, everyMs) {
    state.token = tokenFromFragment();
    if (!state.token) { showLogin(); setStatus("no token yet", true); }
    async function run() {
      if (paused() || !state.token) return;
      try {
        await refresh();
        setStatus("updated " + new Date().toLocaleTimeString());
      } catch (err) {
        setStatus(String(err.message || err), true);
      }
    }
    document.getElementById("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      state.token = document.getElementById("token").value.trim();
      localStorage.setItem("opscope.token", state.token);
      document.getElementById("login").hidden = true;
      run();
    });
    const form = document.getElementById("filters");
    if (form) form.addEventListener("input", run);
    run();
    if (everyMs) setInterval(run, everyMs);
    return run;
  }

  window.opscope = {
    el, svg, link, when, short, ago, severityRank, emptyRow, get, post, filters, start, setStatus,
    SEVERITIES,
  };
})();
