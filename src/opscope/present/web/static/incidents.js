// Incident list: newest first, with the top-ranked cause of each.
(function () {
  "use strict";
  const { el, when, emptyRow, get, filters, start } = window.opscope;

  async function refresh() {
    const f = filters();
    const page = await get("/api/v1/incidents", Object.assign({ limit: 100 }, f));
    // Merged incidents live on inside the one they joined; show them only when asked.
    const items = f.status ? page.items : page.items.filter((i) => i.status !== "merged");
    document.getElementById("count").textContent = "(" + items.length + ")";
    if (!items.length) {
      return emptyRow(document.getElementById("incidents"), Object.keys(f).length
        ? "No incident matches these filters." : "No incident yet.");
    }
    document.querySelector("#incidents tbody").replaceChildren(...items.map((i) => {
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
  }

  document.addEventListener("DOMContentLoaded", () => start(refresh, 5000));
})();
