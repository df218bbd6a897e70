// Live event view: the newest events and logs, filtered, refreshed every few seconds.
(function () {
  "use strict";
  const { el, when, get, filters, start } = window.opscope;

  function renderEvents(items) {
    document.querySelector("#events tbody").replaceChildren(...items.map((e) => {
      const tr = el("tr");
      tr.append(el("td", e.status, "st-" + e.status), el("td", e.severity, "sev sev-" + e.severity),
        el("td", e.name), el("td", e.entity), el("td", e.summary, "msg"), el("td", e.source),
        el("td", when(e.starts_at)), el("td", e.repeat_count ?? ""));
      return tr;
    }));
    document.getElementById("event-count").textContent = "(" + items.length + " newest)";
  }

  function renderLogs(items) {
    document.querySelector("#logs tbody").replaceChildren(...items.map((r) => {
      const tr = el("tr");
      tr.append(el("td", when(r.ts)), el("td", r.level, "lvl-" + r.level), el("td", r.entity),
        el("td", r.message, "msg"));
      return tr;
    }));
    document.getElementById("log-count").textContent = "(" + items.length + " newest)";
  }

  async function refresh() {
    const f = filters();
    const logParams = { limit: 100, source: f.source, entity: f.entity, q: f.q };
    const [events, logs] = await Promise.all([
      get("/api/v1/events", Object.assign({ limit: 100 }, f)),
      get("/api/v1/logs", logParams),
    ]);
    renderEvents(events.items);
    renderLogs(logs.items);
  }

  document.addEventListener("DOMContentLoaded", () => start(refresh, 5000));
})();
