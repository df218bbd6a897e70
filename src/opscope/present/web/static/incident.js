// One incident: header with operator actions, the root-cause graph (its entities, the
// ranked causes and their topology neighbours), the ranked causes with their evidence,
// evidence charts (expected band and anomaly marks), its signals and its timeline, a
// plain-English summary, and the most similar past incidents with why they are similar.
(function () {
  "use strict";
  const { el, link, when, ago, emptyRow, get, post, start, setStatus } = window.opscope;
  const main = document.getElementById("incident");
  const id = main.dataset.incidentId;
  const ENTITY_LABELS = JSON.parse(main.dataset.entityLabels || "[]");
  const MAX_NEIGHBOURS = 24;
  const CHART_POINTS = 240;
  const REFERENCE_MS = 30 * 60e3; // normal operation shown before the incident opened
  const AFTER_MS = 15 * 60e3;
  const page = { incident: null, topology: null, topologyAt: 0, viewer: null, verdicts: new Map(),
    graphKey: "", chartKey: "", languageKey: "", entitySeries: new Map(), gone: false, pickerFor: null,
    chartQueue: Promise.resolve(),
    selected: new URLSearchParams(location.search).get("node") };

  // --- header and actions -------------------------------------------------------------

  function notice(text) {
    const box = document.getElementById("page-state");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function renderHead(i) {
    document.getElementById("title").textContent = i.title || i.id;
    const sev = document.getElementById("severity");
    sev.textContent = i.severity;
    sev.className = "badge sev-" + i.severity;
    const st = document.getElementById("state");
    st.textContent = i.status;
    st.className = "badge st-" + i.status;
    document.getElementById("ack").textContent = i.acknowledged_by
      ? "acknowledged by " + i.acknowledged_by : "";
    const facts = [
      "entities: " + (i.entities || []).join(", "),
      "impact: " + ((i.impact || []).join(", ") || "none known"),
      "signals: " + (i.signal_count ?? (i.members || []).length),
      "opened " + when(i.opened_at) + " (" + ago(i.opened_at) + ")",
      "updated " + when(i.updated_at),
    ];
    if (i.resolved_at) facts.push("resolved " + when(i.resolved_at));
    if (i.merged_into) facts.push("merged into " + i.merged_into);
    document.getElementById("facts").textContent = facts.join(" · ");
    const canAct = Boolean(page.viewer && page.viewer.can_act) && i.status === "open";
    document.getElementById("ack-button").hidden = !canAct || Boolean(i.acknowledged_by);
    document.getElementById("resolve-button").hidden = !canAct;
    if (page.viewer && !page.viewer.can_act && i.status === "open") {
      document.getElementById("action-note").textContent =
        "This token may read only: acknowledging and resolving need the ingest scope.";
    }
  }

  async function act(verb) {
    const note = document.getElementById("action-note");
    note.textContent = verb + "…";
    try {
      await post("/api/v1/incidents/" + encodeURIComponent(id) + "/" + verb);
      note.textContent = verb === "ack" ? "Acknowledged." : "Resolved.";
      await refresh();
    } catch (err) {
      note.textContent = "Could not " + verb + ": " + String(err.message || err);
    }
  }

  // --- hypotheses, members, timeline ---------------------------------------------------

  function hypothesis(h) {
    const li = el("li", null, "hyp" + (page.selected === h.entity ? " selected" : ""));
    li.tabIndex = 0;
    const head = el("div", null, "hyp-head");
    head.append(el("strong", h.entity), el("span", " score " + Number(h.score).toPrecision(3), "muted"));
    if (h.signal) head.append(el("span", " · " + h.signal, "muted mono"));
    li.append(head, el("p", h.reason));
    const evidence = el("ul", null, "evidence");
    for (const e of h.evidence || []) {
      const item = el("li");
      item.append(el("span", e.kind, "ev-kind"), document.createTextNode(" " + e.summary));
      evidence.append(item);
    }
    li.append(evidence);
    li.addEventListener("click", () => select(h.entity));
    return li;
  }

  function renderHypotheses(i) {
    const ranked = i.hypotheses || [];
    document.getElementById("ranked-at").textContent = i.ranked_at ? "ranked " + when(i.ranked_at) : "";
    document.getElementById("hypotheses").replaceChildren(...(ranked.length
      ? ranked.slice(0, 5).map(hypothesis)
      : [el("li", i.status === "open"
        ? "Not ranked yet: causes are ranked shortly after the incident opens."
        : "No ranking was made for this incident.", "muted empty")]));
  }

  // A storm's detail carries the first members and timeline entries only; say how many.
  function renderShare(id, shown, total, noun) {
    const note = document.getElementById(id);
    note.textContent = typeof total === "number" && total > shown
      ? `showing the first ${shown} of ${total} ${noun}` : "";
  }

  function renderMembers(i) {
    const table = document.getElementById("members");
    const members = i.members || [];
    renderShare("members-share", members.length, i.member_total, "signals");
    if (!members.length) return emptyRow(table, "No signal is part of this incident any more.");
    table.querySelector("tbody").replaceChildren(...members.map((m) => {
      const s = m.signal || {};
      const tr = el("tr", null, (m.muted_by || []).length ? "muted-row" : "");
      tr.append(el("td", s.name), el("td", s.entity), el("td", s.severity, "sev sev-" + s.severity),
        el("td", when(m.joined_at)), el("td", m.reason, "msg"),
        el("td", (m.muted_by || []).map((x) => x.reason || x.kind).join(", ")),
        verdictCell(s));
      return tr;
    }));
  }

  // An anomaly member can be called a false alarm: the verdict is kept, and the metric
  // detector that raised it learns to tolerate a surprise of that size on its series.
  function verdictCell(s) {
    const cell = el("td");
    const said = page.verdicts.get(s.id);
    if (said) {
      cell.append(el("span", said, "muted"));
    } else if (s.kind === "anomaly" && s.labels && s.labels.subject
               && page.viewer && page.viewer.can_act) {
      const button = el("button", "False alarm");
      button.type = "button";
      button.title = "Keep this verdict, and teach the detector not to page for this again";
      button.addEventListener("click", () => judge(s, cell));
      cell.append(button);
    }
    return cell;
  }

  async function judge(s, cell) {
    cell.replaceChildren(el("span", "…", "muted"));
    let text;
    try {
      // The anomaly that opened the signal: same entity, subject and onset.
      const onset = Date.parse(s.starts_at);
      const found = await get("/api/v1/anomalies", { entity: s.entity, start: s.starts_at,
        end: new Date(onset + 1000).toISOString(), limit: 1000 });
      const mine = found.items.filter((a) => a.subject === s.labels.subject
        && Date.parse(a.ts) === onset);
      if (!mine.length) throw new Error("its anomaly is no longer stored");
      const answers = [];
      for (const a of mine) {
        answers.push(await post("/api/v1/anomalies/" + encodeURIComponent(a.id) + "/verdict",
          { verdict: "false_alarm" }));
      }
      text = "false alarm " + answers[0].detail;
    } catch (err) {
      text = "could not judge: " + String(err.message || err);
    }
    page.verdicts.set(s.id, text);
    cell.replaceChildren(el("span", text, "muted"));
  }

  function renderTimeline(i) {
    renderShare("timeline-share", (i.timeline || []).length, i.timeline_total, "entries");
    const entries = (i.timeline || []).map((t) => ({ ts: t.ts, kind: t.kind, summary: t.summary }))
      .concat((i.actions || []).map((a) => ({
        ts: a.ts, kind: a.action, summary: "by " + a.actor + (a.detail && a.detail.text ? ": " + a.detail.text : ""),
      })))
      .sort((a, b) => String(a.ts).localeCompare(String(b.ts)));
    const list = document.getElementById("timeline");
    if (!entries.length) return list.replaceChildren(el("li", "Nothing happened yet.", "muted"));
    list.replaceChildren(...entries.map((t) => {
      const li = el("li");
      li.append(el("span", when(t.ts), "muted"), el("span", " " + t.kind + ": ", "kind"),
        el("span", t.summary));
      return li;
    }));
  }

  // --- summary and similar past incidents ------------------------------------------------

  function renderSummary(answer) {
    const box = document.getElementById("summary");
    box.replaceChildren(...answer.sentences.map((s) => {
      const span = el("span", s.text + " ");
      span.title = "from " + s.sources.join(", ");
      return span;
    }));
  }

  function similarItem(item) {
    const li = el("li", null, "similar-item");
    const head = el("div");
    head.append(el("strong", Number(item.score).toFixed(2), "score"), document.createTextNode(" "),
      link(item.title || item.incident_id, "/incidents/" + encodeURIComponent(item.incident_id)),
      el("span", " " + item.severity, "sev sev-" + item.severity));
    li.append(head, el("p", item.explanation, "muted"),
      el("p", "opened " + when(item.outcome.opened_at) + ", " + item.outcome.text
        + (item.root_cause ? "; its root cause: " + item.root_cause : "")));
    return li;
  }

  function renderSimilar(answer) {
    const list = document.getElementById("similar");
    list.replaceChildren(...(answer.items.length ? answer.items.map(similarItem)
      : [el("li", "No similar incident among the " + answer.indexed + " indexed.", "muted empty")]));
  }

  // Both follow the incident: asked again only when it changes.
  async function refreshLanguage(i) {
    const key = JSON.stringify([i.updated_at, i.status, i.ranked_at]);
    if (key === page.languageKey) return;
    page.languageKey = key;
    const base = "/api/v1/incidents/" + encodeURIComponent(id);
    const [summary, similar] = await Promise.all([get(base + "/summary"),
      get(base + "/similar", { limit: 5 })]);
    renderSummary(summary);
    renderSimilar(similar);
    retell(base, summary.narrator, key);
  }

  // The operator's own language model, when one is configured, retells the summary; it
  // is shown apart from it and named, and never replaces it.
  async function retell(base, narrator, key) {
    const box = document.getElementById("narrative");
    if (!narrator) { box.hidden = true; return; }
    box.hidden = false;
    box.replaceChildren(el("span", "Asking " + narrator + " to retell the summary…", "muted"));
    const answer = await get(base + "/summary", { narrate: "true" });
    if (key !== page.languageKey) return;  // the incident changed meanwhile
    const told = answer.narrative;
    box.replaceChildren(told
      ? el("span", told.text)
      : el("span", "No retelling: " + (answer.narrative_error || "no answer"), "muted"));
    if (told) box.append(el("span", " — retold by " + told.model + " from the sentences above",
      "muted"));
  }

  // --- the root-cause graph -------------------------------------------------------------

  function graphModel(i, topology) {
    const roles = new Map();
    const ranks = new Map();
    (i.hypotheses || []).slice(0, 3).forEach((h, n) => { ranks.set(h.entity, n + 1); roles.set(h.entity, "cause" + (n + 1)); });
    const affected = new Set(i.entities || []);
    for (const e of affected) if (!roles.has(e)) roles.set(e, "affected");
    const core = new Set(roles.keys());
    const relations = (topology && topology.relations) || [];
    // Neighbours one hop away, those touching most of the incident first.
    const touches = new Map();
    for (const r of relations) {
      for (const [a, b] of [[r.source, r.target], [r.target, r.source]]) {
        if (core.has(a) && !core.has(b)) touches.set(b, (touches.get(b) || 0) + 1);
      }
    }
    const neighbours = [...touches.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, MAX_NEIGHBOURS).map((x) => x[0]);
    for (const n of neighbours) roles.set(n, "neighbour");
    const kinds = new Map(((topology && topology.entities) || []).map((e) => [e.id, e.kind]));
    const nodes = [...roles.entries()].map(([entity, role]) => ({
      id: entity, role, kind: kinds.get(entity) || "", rank: ranks.get(entity) || 0,
      affected: affected.has(entity),
    }));
    const edges = relations.filter((r) => roles.has(r.source) && roles.has(r.target))
      .map((r) => ({ source: r.source, target: r.target, kind: r.kind }));
    return { nodes, edges, hidden: touches.size - neighbours.length };
  }

  function renderGraph(i) {
    const model = graphModel(i, page.topology);
    const key = JSON.stringify([model, page.selected]);
    if (key === page.graphKey) return;
    page.graphKey = key;
    const box = document.getElementById("graph");
    window.opscopeGraph.render(box, model.nodes, model.edges, { selected: page.selected, onSelect: select });
    if (!page.topology || !page.topology.relations.length) {
      box.append(el("p", "No topology known: only the incident's own entities are drawn.", "muted"));
    } else if (model.hidden > 0) {
      box.append(el("p", model.hidden + " more neighbours not drawn.", "muted"));
    }
  }

  function select(entity) {
    page.selected = entity;
    // The selection is kept in the address, so that a link shows the same node.
    const url = new URL(location.href);
    url.searchParams.set("node", entity);
    history.replaceState(null, "", url.pathname + url.search);
    renderGraph(page.incident);
    renderHypotheses(page.incident);
    chartSelected().catch((err) => setStatus(String(err.message || err), true));
  }

  // --- evidence charts ------------------------------------------------------------------

  function chartWindow(i) {
    const opened = Date.parse(i.opened_at);
    const updated = Date.parse(i.updated_at) || opened;
    let end;
    if (i.resolved_at) end = Date.parse(i.resolved_at) + AFTER_MS;
    else end = Math.max(updated, Math.min(Date.now(), updated + 6 * 3600e3)) + 60e3;
    const begin = opened - REFERENCE_MS;
    const step = Math.max(5, Math.round((end - begin) / 1000 / CHART_POINTS));
    return { start: new Date(begin).toISOString(), end: new Date(end).toISOString(), step, opened };
  }

  // "entity/name{k=v,...}" (or without the entity) -> {name, labels}
  function parseSpec(subject, entity) {
    let text = String(subject || "");
    if (text.startsWith(entity + "/")) text = text.slice(entity.length + 1);
    const match = /^([^{]+)(?:\{(.*)\})?$/.exec(text);
    if (!match) return null;
    const labels = {};
    for (const pair of (match[2] || "").split(",")) {
      const at = pair.indexOf("=");
      if (at > 0) labels[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return { name: match[1], labels };
  }

  function describe(row) {
    const extra = Object.entries(row.labels || {}).filter(([k]) => !ENTITY_LABELS.includes(k))
      .map(([k, v]) => k + "=" + v);
    return row.name + (extra.length ? "{" + extra.join(",") + "}" : "");
  }

  // Every series of an entity: its entity is read from the first entity label it has.
  async function seriesOf(entity) {
    if (page.entitySeries.has(entity)) return page.entitySeries.get(entity);
    const pages = await Promise.all(ENTITY_LABELS.map((k) =>
      get("/api/v1/metrics/names", { match: k + "=" + entity, limit: 500 })));
    const byId = new Map();
    for (const p of pages) for (const row of p.series) if (row.entity === entity) byId.set(row.series_id, row);
    const rows = [...byId.values()].sort((a, b) => describe(a).localeCompare(describe(b)));
    page.entitySeries.set(entity, rows);
    return rows;
  }

  async function findSeries(entity, subject) {
    const spec = parseSpec(subject, entity);
    if (!spec) return null;
    const match = Object.entries(spec.labels).map(([k, v]) => k + "=" + v);
    const found = await get("/api/v1/metrics/names", { name: spec.name, match, limit: 1000 });
    const rows = found.series.filter((r) => r.entity === entity);
    rows.sort((a, b) => Object.keys(a.labels).length - Object.keys(b.labels).length);
    return rows[0] || null;
  }

  async function drawSeries(row, box, win) {
    const match = Object.entries(row.labels || {}).map(([k, v]) => k + "=" + v);
    const answer = await get("/api/v1/metrics/series", { name: row.name, match, start: win.start,
      end: win.end, step: win.step, band: "true", max_series: 20 });
    const series = answer.series.find((s) => s.series_id === row.series_id);
    window.opscopeChart.lineChart(box, series || { points: [] }, {
      title: row.entity + " · " + describe(row), marker: { ms: win.opened, label: "opened" },
      metric: row.name,
    });
  }

  function topSubject(h) {
    if (h.signal) return h.signal;
    const shift = (h.evidence || []).find((e) => e.kind === "metric_shift" && e.subject);
    return shift ? shift.subject : "";
  }

  async function chartTop(force) {
    const i = page.incident;
    const h = (i.hypotheses || [])[0];
    const box = document.getElementById("top-chart");
    const caption = document.getElementById("top-caption");
    const subject = h ? topSubject(h) : "";
    const key = JSON.stringify([h && h.entity, subject, i.updated_at, i.resolved_at]);
    if (!force && key === page.chartKey) return false;
    page.chartKey = key;
    if (!h) {
      caption.textContent = "Top cause";
      box.replaceChildren(el("p", "No ranked cause yet, so no evidence to chart.", "muted empty"));
      return true;
    }
    caption.textContent = "#1 cause: " + h.entity;
    const row = subject ? await findSeries(h.entity, subject) : null;
    if (!row) {
      box.replaceChildren(el("p", "The top cause names no stored metric series.", "muted empty"));
      return true;
    }
    caption.textContent = "#1 cause: " + h.entity + " · " + describe(row);
    await drawSeries(row, box, chartWindow(i));
    return true;
  }

  // The series to show first for a node: the one its ranking named, else the one with
  // the strongest metric anomaly in the window, else the first.
  async function defaultSeries(entity, rows, win) {
    const h = (page.incident.hypotheses || []).find((x) => x.entity === entity);
    if (h && topSubject(h)) {
      const row = await findSeries(entity, topSubject(h));
      if (row) return row.series_id;
    }
    const found = await get("/api/v1/anomalies", { entity, kind: "metric", start: win.start,
      end: win.end, limit: 200 });
    const ids = new Set(rows.map((r) => r.series_id));
    const best = found.items.filter((a) => ids.has(a.subject)).sort((a, b) => b.score - a.score)[0];
    return best ? best.subject : rows[0].series_id;
  }

  // Draws of the selected node's chart run one after the other, newest request last.
  function chartSelected() {
    page.chartQueue = page.chartQueue.catch(() => null).then(drawSelected);
    return page.chartQueue;
  }

  async function drawSelected() {
    const entity = page.selected;
    const box = document.getElementById("sel-chart");
    const picker = document.getElementById("sel-series");
    const caption = document.getElementById("sel-caption");
    if (!entity) {
      caption.textContent = "Selected node";
      picker.hidden = true;
      box.replaceChildren(el("p", "Click a node of the graph or a cause to chart its series.", "muted empty"));
      return;
    }
    caption.textContent = entity + " ";
    const win = chartWindow(page.incident);
    const rows = await seriesOf(entity);
    if (!rows.length) {
      picker.hidden = true;
      box.replaceChildren(el("p", "No metric series is stored for " + entity + ".", "muted empty"));
      return;
    }
    if (page.pickerFor !== entity) {
      page.pickerFor = entity;
      const chosen = await defaultSeries(entity, rows, win);
      picker.replaceChildren(...rows.map((r) => {
        const option = el("option", describe(r));
        option.value = r.series_id;
        option.selected = r.series_id === chosen;
        return option;
      }));
      picker.hidden = false;
    }
    const row = rows.find((r) => r.series_id === picker.value) || rows[0];
    await drawSeries(row, box, win);
  }

  // --- refresh --------------------------------------------------------------------------

  async function refresh() {
    if (page.gone) return;
    let i;
    try {
      if (!page.viewer) page.viewer = await get("/api/v1/whoami");
      i = await get("/api/v1/incidents/" + encodeURIComponent(id));
    } catch (err) {
      if (err.status === 404) {
        page.gone = true;
        notice("No incident " + id + " is stored here. It may have been removed by retention, "
          + "or the link is wrong.");
        for (const part of main.querySelectorAll(":scope > section, :scope > .grid2")) part.hidden = true;
        return;
      }
      if (err.status === 401 || err.status === 403) notice(String(err.message));
      throw err;
    }
    notice("");
    if (!page.topology || Date.now() - page.topologyAt > 60e3) {
      page.topology = await get("/api/v1/topology");
      page.topologyAt = Date.now();
    }
    const first = !page.incident;
    page.incident = i;
    renderHead(i);
    renderHypotheses(i);
    renderGraph(i);
    renderMembers(i);
    renderTimeline(i);
    await refreshLanguage(i);
    // Charts follow the incident: redrawn when it changes, not on every refresh.
    if (await chartTop(false) || first) await chartSelected();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("ack-button").addEventListener("click", () => act("ack"));
    document.getElementById("resolve-button").addEventListener("click", () => {
      if (confirm("Resolve this incident now?")) act("resolve");
    });
    document.getElementById("sel-series").addEventListener("change", () =>
      chartSelected().catch((err) => setStatus(String(err.message || err), true)));
    if (!page.selected) chartSelected();
    start(refresh, 10000);
  });
})();
