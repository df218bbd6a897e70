// One incident: its ranked causes with their evidence, its signals and its timeline.
(function () {
  "use strict";
  const { el, when, get, start } = window.opscope;
  const id = document.getElementById("incident").dataset.incidentId;

  function hypothesis(h) {
    const li = el("li");
    const head = el("div", null, "hyp-head");
    head.append(el("strong", h.entity), el("span", " score " + Number(h.score).toFixed(2), "muted"));
    if (h.signal) head.append(el("span", " · " + h.signal, "muted"));
    li.append(head, el("p", h.reason));
    const evidence = el("ul", null, "evidence");
    for (const e of h.evidence || []) evidence.append(el("li", e.summary));
    li.append(evidence);
    return li;
  }

  async function refresh() {
    const i = await get("/api/v1/incidents/" + encodeURIComponent(id));
    document.getElementById("title").textContent =
      "[" + String(i.severity).toUpperCase() + "] " + (i.title || i.id) + " — " + i.status;
    const facts = [
      "entities: " + (i.entities || []).join(", "),
      "impact: " + ((i.impact || []).join(", ") || "none known"),
      "signals: " + (i.signal_count ?? (i.members || []).length),
      "opened " + when(i.opened_at || i.started_at),
    ];
    if (i.resolved_at) facts.push("resolved " + when(i.resolved_at));
    document.getElementById("facts").textContent = facts.join(" · ");
    const ranked = i.hypotheses || [];
    document.getElementById("hypotheses").replaceChildren(
      ...(ranked.length ? ranked.slice(0, 5).map(hypothesis) : [el("li", "not ranked yet", "muted")]));
    document.querySelector("#members tbody").replaceChildren(...(i.members || []).map((m) => {
      const s = m.signal || {};
      const tr = el("tr");
      tr.append(el("td", s.name), el("td", s.entity), el("td", s.severity, "sev sev-" + s.severity),
        el("td", when(m.joined_at)), el("td", m.reason, "msg"),
        el("td", (m.muted_by || []).map((x) => x.reason || x.kind).join(", ")));
      return tr;
    }));
    document.getElementById("timeline").replaceChildren(...(i.timeline || []).map((t) => {
      const li = el("li");
      li.append(el("span", when(t.ts), "muted"), el("span", " " + t.kind + ": ", "kind"),
        el("span", t.summary));
      return li;
    }));
  }

  document.addEventListener("DOMContentLoaded", () => start(refresh, 10000));
})();
