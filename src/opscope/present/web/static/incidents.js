// Incident list: newest first, with the top-ranked cause of each.
(function () {
  "use strict";
  const { el, when, get, filters, start } = window.opscope;

  async function refresh() {
    const page = await get("/api/v1/incidents", Object.assign({ limit: 100 }, filters()));
    document.querySelector("#incidents tbody").replaceChildren(...page.items.map((i) => {
      const tr = el("tr");
      const link = el("a", i.title || i.id);
      link.href = "/incidents/" + encodeURIComponent(i.id);
      const title = el("td");
      title.append(link);
      const cause = i.top_hypothesis ? i.top_hypothesis.entity : "";
      tr.append(el("td", i.severity, "sev sev-" + i.severity), el("td", i.status, "st-" + i.status),
        title, el("td", cause), el("td", (i.entities || []).join(", ")),
        el("td", i.signal_count ?? ""), el("td", when(i.opened_at || i.started_at)));
      return tr;
    }));
    document.getElementById("count").textContent = "(" + page.items.length + ")";
  }

  document.addEventListener("DOMContentLoaded", () => start(refresh, 5000));
})();
