// Overview: the business view (user-facing services and their health) and the
// operations view (incidents, firing and noisy alerts, anomalies, ingestion), from one
// read of /api/v1/overview, refreshed every 15 s.
(function () {
  "use strict";
  const { el, link, when, short, ago, emptyRow, get, start, SEVERITIES } = window.opscope;
  let previous = null; // the last ingestion counters and when they were read, for rates

  function incidentLink(i) {
    return link(i.title || i.id, "/incidents/" + encodeURIComponent(i.id));
  }

  function serviceCard(s) {
    const affected = s.status !== "ok";
    const card = el("article", null, "card " + (affected ? "sevborder-" + s.worst_severity : "ok"));
    const head = el("div", null, "card-head");
    head.append(el("strong", s.name && s.name !== s.id ? s.name + " (" + s.id + ")" : s.id));
    head.append(el("span", affected ? s.worst_severity : "healthy",
      affected ? "badge sev-" + s.worst_severity : "badge ok"));
    card.append(head);
    if (!affected) {
      card.append(el("p", "no open incident touches it", "muted"));
      return card;
    }
    card.append(el("p", "affected since " + when(s.since) + " (" + ago(s.since) + ")", "muted"));
    const list = el("ul", null, "card-list");
    for (const i of s.incidents.slice(0, 4)) {
      const li = el("li");
      li.append(el("span", i.severity, "sev sev-" + i.severity), document.createTextNode(" "),
        incidentLink(i));
      list.append(li);
    }
    if (s.incidents.length > 4) list.append(el("li", "+" + (s.incidents.length - 4) + " more", "muted"));
    card.append(list);
    return card;
  }

  function renderServices(o) {
    const box = document.getElementById("services");
    if (!o.services.length) {
      box.replaceChildren(el("p", o.topology_entities
        ? "No user-facing service found in the topology: mark entities with the label "
          + "user_facing=true or add call relations."
        : "No topology yet: send entities and relations to /api/v1/topology to see the "
          + "user-facing services here.", "muted empty"));
    } else {
      box.replaceChildren(...o.services.map(serviceCard));
    }
    const hit = o.services.filter((s) => s.status !== "ok").length;
    document.getElementById("kpi-affected").textContent = String(hit);
    document.getElementById("kpi-affected").className = "kpi-value" + (hit ? " sev-error" : " ok");
    document.getElementById("kpi-services").textContent = "of " + o.services.length;
  }

  function renderKpis(o) {
    const inc = o.incidents;
    const open = document.getElementById("kpi-open");
    open.textContent = inc.open + (inc.capped ? "+" : "");
    const worst = SEVERITIES.find((s) => inc.by_severity[s] > 0);
    open.className = "kpi-value" + (worst ? " sev-" + worst : " ok");
    const chips = SEVERITIES.filter((s) => inc.by_severity[s] > 0).map((s) =>
      el("span", inc.by_severity[s] + " " + s, "chip sev-" + s));
    document.getElementById("kpi-sev").replaceChildren(
      ...(chips.length ? chips : [el("span", "none open", "muted")]));
    document.getElementById("kpi-firing").textContent =
      o.alerts.firing + (o.alerts.capped ? "+" : "");
    document.getElementById("kpi-ack").textContent = "acknowledged incidents: " + inc.acknowledged;
  }

  function renderIncidents(o) {
    const table = document.getElementById("open-incidents");
    if (!o.incidents.newest.length) return emptyRow(table, "No open incident.");
    table.querySelector("tbody").replaceChildren(...o.incidents.newest.map((i) => {
      const tr = el("tr");
      const title = el("td");
      title.append(incidentLink(i));
      tr.append(el("td", i.severity, "sev sev-" + i.severity), title, el("td", i.top_cause || ""),
        el("td", (i.impact || []).join(", ")), el("td", i.signal_count ?? ""),
        el("td", ago(i.opened_at)));
      return tr;
    }));
  }

  function renderNoisy(o) {
    const table = document.getElementById("noisy");
    document.getElementById("noisy-note").textContent =
      o.alerts.scanned ? "among the " + o.alerts.scanned + " newest alerts" : "";
    if (!o.alerts.noisy.length) return emptyRow(table, "No alert has repeated yet.");
    table.querySelector("tbody").replaceChildren(...o.alerts.noisy.map((a) => {
      const tr = el("tr");
      tr.append(el("td", a.name), el("td", a.entity), el("td", a.severity, "sev sev-" + a.severity),
        el("td", a.status, "st-" + a.status), el("td", a.repeats), el("td", a.reopens),
        el("td", ago(a.last_seen)));
      return tr;
    }));
  }

  function renderAnomalies(id, rows, third, emptyText) {
    const table = document.getElementById(id);
    if (!rows.length) return emptyRow(table, emptyText);
    table.querySelector("tbody").replaceChildren(...rows.map((a) => {
      const tr = el("tr");
      tr.append(el("td", short(a.ts)), el("td", a.entity), el("td", third(a)),
        el("td", a.summary || a.subject, "msg"));
      return tr;
    }));
  }

  function renderIngestion(o) {
    const now = Date.now();
    const counts = o.ingestion.ingested;
    const kinds = Object.keys(Object.assign({}, counts, o.ingestion.rejected)).sort();
    const seconds = previous ? (now - previous.at) / 1000 : 0;
    const rate = (k) => (previous && seconds > 0
      ? Math.max(0, ((counts[k] || 0) - (previous.counts[k] || 0)) / seconds) : null);
    const table = document.getElementById("ingestion");
    if (!kinds.length) emptyRow(table, "Nothing ingested through this server since it started.");
    else table.querySelector("tbody").replaceChildren(...kinds.map((k) => {
      const tr = el("tr");
      const r = rate(k);
      tr.append(el("td", k), el("td", (counts[k] || 0).toLocaleString()),
        el("td", r === null ? "measuring…" : r.toFixed(1)),
        el("td", (o.ingestion.rejected[k] || 0).toLocaleString()));
      return tr;
    }));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const totalRate = previous && seconds > 0 ? Math.max(0, (total - previous.total) / seconds) : null;
    document.getElementById("kpi-rate").textContent = totalRate === null ? "…" : totalRate.toFixed(1);
    document.getElementById("kpi-ingested").textContent = total.toLocaleString() + " since start";
    previous = { at: now, counts: Object.assign({}, counts), total };
    const queues = document.getElementById("queues");
    if (!o.ingestion.queues.length) return emptyRow(queues, "No analysis stage runs.");
    queues.querySelector("tbody").replaceChildren(...o.ingestion.queues.map((q) => {
      const tr = el("tr");
      tr.append(el("td", q.subscriber), el("td", q.topic), el("td", q.depth, q.depth ? "sev-warning" : ""));
      return tr;
    }));
  }

  async function refresh() {
    const o = await get("/api/v1/overview");
    renderKpis(o);
    renderServices(o);
    renderIncidents(o);
    renderNoisy(o);
    renderAnomalies("metric-anomalies", o.anomalies.metric,
      (a) => (a.score === null || a.score === undefined ? "" : Number(a.score).toFixed(1)),
      "No metric anomaly yet.");
    renderAnomalies("log-anomalies", o.anomalies.log, (a) => a.kind, "No log anomaly yet.");
    renderIngestion(o);
  }

  document.addEventListener("DOMContentLoaded", () => start(refresh, 15000));
})();
