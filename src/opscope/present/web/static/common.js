// Shared by every page: the operator's token, API reads, small DOM helpers, refresh loop.
(function () {
  "use strict";
  const state = { token: null };

  function tokenFromFragment() {
    const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
    if (match) {
      localStorage.setItem("opscope.token", decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return localStorage.getItem("opscope.token");
  }

  // Data is always set as text, never parsed as markup.
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

  function showLogin() {
    document.getElementById("login").hidden = false;
  }

  async function get(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
      else if (v !== "" && v !== undefined && v !== null) url.searchParams.set(k, v);
    }
    const resp = await fetch(url, { headers: { Authorization: "Bearer " + state.token } });
    if (resp.status === 401 || resp.status === 403) { showLogin(); throw new Error("token refused"); }
    if (!resp.ok) throw new Error(path + ": HTTP " + resp.status);
    return resp.json();
  }

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

  function start(refresh, everyMs) {
    state.token = tokenFromFragment();
    if (!state.token) showLogin();
    const status = document.getElementById("status");
    async function run() {
      if (paused() || !state.token) return;
      try {
        await refresh();
        status.textContent = "updated " + new Date().toLocaleTimeString();
        status.className = "status";
      } catch (err) {
        status.textContent = String(err.message || err);
        status.className = "status err";
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
  }

  window.opscope = { el, when, get, filters, start };
})();
