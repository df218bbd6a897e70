// The operations report of a window, from /api/v1/reports/operations.
(function () {
  "use strict";
  const { el, link, emptyRow, get, start } = window.opscope;

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "n/a";
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function rows(id, items, cells, empty) {
    const table = document.getElementById(id);
    if (!items.length) return emptyRow(table, empty);
    table.querySelector("tbody").replaceChildren(...items.map((item) => {
      const tr = el("tr");
      for (const cell of cells(item)) tr.append(cell instanceof Node ? cell : el("td", cell));
      return tr;
    }));
  }

  function pairs(counts) {
    return Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([name, count]) => ({ name, count }));
  }

  function windowParams() {
    const days = Number(document.querySelector("[name=days]").value || 7);
    const end = new Date();
    const begin = new Date(end.getTime() - days * 86400000);
    return { start: begin.toISOString(), end: end.toISOString() };
  }

  async function refresh() {
    const params = windowParams();
    const r = await get("/api/v1/reports/operations", params);
    const inc = r.incidents;
    document.getElementById("r-opened").textContent = inc.opened;
    document.getElementById("r-open").textContent = inc.resolved + " resolved, " + inc.open + " still open";
    document.getElementById("r-mtta").textContent = duration(inc.time_to_acknowledge_s.median);
    document.getElementById("r-mtta-sub").textContent = "90th percentile " + duration(inc.time_to_acknowledge_s.p90);
    document.getElementById("r-mttr").textContent = duration(inc.time_to_resolve_s.median);
    document.getElementById("r-mttr-sub").textContent = "90th percentile " + duration(inc.time_to_resolve_s.p90);
    document.getElementById("r-noise").textContent = r.alerts.per_incident === null ? "n/a" : r.alerts.per_incident;
    document.getElementById("r-alerts").textContent = r.alerts.distinct + " alerts from " + r.alerts.notifications + " notifications";
    rows("r-causes", inc.top_causes, (t) => [t.name, t.count], "No ranked incident in this window.");
    rows("r-impact", inc.top_impact, (t) => [t.name, t.count], "No user-facing service was impacted.");
    rows("r-longest", inc.longest, (x) => {
      const td = el("td");
      td.append(link(x.title || x.id, "/incidents/" + encodeURIComponent(x.id)));
      return [td, x.severity, x.status, duration(x.seconds)];
    }, "No incident in this window.");
    rows("r-noisy", r.alerts.noisiest, (t) => [t.name, t.count], "No alert in this window.");
    rows("r-anomalies", pairs(r.anomalies.by_kind), (t) => [t.name, t.count], "No anomaly in this window.");
    const judged = r.anomalies.verdicts;
    document.getElementById("r-judged").textContent = judged.judged + " judged: "
      + judged.false_alarm + " false alarms, " + judged.confirmed + " confirmed";
    rows("r-verdicts", judged.by_view, (v) => [v.name, v.false_alarm, v.confirmed],
      "No anomaly of this window was judged.");
    rows("r-reactions", pairs(r.reactions.by_status), (t) => [t.name, t.count], "No action was considered.");
    document.getElementById("r-capped").textContent = r.capped.length
      ? "Read limit reached for " + r.capped.join(", ") + ": those figures cover the newest rows only." : "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const run = start(refresh, 60000);
    document.querySelector("[name=days]").addEventListener("change", run);
    document.getElementById("markdown-link").addEventListener("click", async (ev) => {
      ev.preventDefault();
      // The API needs the token, so fetch the Markdown and hand it over as a file.
      const token = localStorage.getItem("opscope.token") || "";
      const url = new URL("/api/v1/reports/operations", location.origin);
      for (const [k, v] of Object.entries({ ...windowParams(), format: "markdown" })) url.searchParams.set(k, v);
      const resp = await fetch(url, { headers: { Authorization: "Bearer " + token } });
      const blob = new Blob([await resp.text()], { type: "text/markdown" });
      const a = el("a");
      a.href = URL.createObjectURL(blob);
      a.download = "opscope-report.md";
      a.click();
    });
  });
})();
