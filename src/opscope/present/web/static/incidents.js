// Incident list: newest first, with the top-ranked cause of each; and the Ask box, which
// shows how a question was read beside its answer.
(function () {
  "use strict";
  const { el, link, when, emptyRow, get, filters, start } = window.opscope;

  // --- ask ------------------------------------------------------------------------------

  // A question that is not understood answers 422 with its reading, which is shown too.
  async function askServer(q) {
    const url = new URL("/api/v1/ask", location.origin);
    url.searchParams.set("q", q);
    const resp = await fetch(url, { headers: {
      Authorization: "Bearer " + localStorage.getItem("opscope.token") } });
    const body = await resp.json().catch(() => ({}));
    if (resp.ok || (resp.status === 422 && body.interpretation)) return body;
    throw new Error((body && body.message) || "ask: HTTP " + resp.status);
  }

  function cell(row) {
    const what = row.title || row.name || row.message || row.description || row.kind || "";
    const td = el("td");
    if (row.title && row.id) td.append(link(what, "/incidents/" + encodeURIComponent(row.id)));
    else td.textContent = what;
    return td;
  }

  function resultTable(head, rows) {
    const table = el("table");
    const tr = el("tr");
    tr.append(...head.map((h) => el("th", h)));
    const thead = el("thead");
    thead.append(tr);
    const tbody = el("tbody");
    tbody.append(...rows);
    table.append(thead, tbody);
    return table;
  }

  function renderAnswer(body) {
    const reading = body.interpretation;
    document.getElementById("ask-reading").textContent = reading.text;
    document.getElementById("ask-notes").replaceChildren(
      ...(reading.notes || []).map((n) => el("li", n)));
    const box = document.getElementById("ask-results");
    const answer = body.answer;
    if (!answer) {
      box.replaceChildren(el("p", "Nothing was looked up: rephrase the words not understood, "
        + "or name an entity exactly.", "muted empty"));
      return;
    }
    if (answer.kind === "count") {
      box.replaceChildren(el("p", (answer.at_least ? "at least " : "") + answer.count, "kpi-value"));
    } else if (answer.kind === "top_entities") {
      box.replaceChildren(answer.entities.length ? resultTable(["Entity", "Count"],
        answer.entities.map((r) => { const tr = el("tr"); tr.append(el("td", r.entity), el("td", r.count)); return tr; }))
        : el("p", "Nothing matches.", "muted empty"));
    } else {
      box.replaceChildren(answer.items.length ? resultTable(["When", "Severity / level / status", "Entity", "What"],
        answer.items.map((r) => {
          const tr = el("tr");
          tr.append(el("td", when(r.opened_at || r.starts_at || r.ts)),
            el("td", r.severity || r.level || r.status || ""),
            el("td", r.entity || (r.entities || []).join(", ")), cell(r));
          return tr;
        })) : el("p", "Nothing matches.", "muted empty"));
      if (answer.more) box.append(el("p", "More match: narrow the question.", "muted"));
    }
  }

  async function ask(ev) {
    if (ev) ev.preventDefault();
    const q = document.getElementById("ask-q").value.trim();
    if (!q) return;
    // The question is kept in the address, so that a link asks it again.
    const url = new URL(location.href);
    url.searchParams.set("q", q);
    history.replaceState(null, "", url.pathname + url.search);
    document.getElementById("ask-reading").textContent = "Reading…";
    try {
      renderAnswer(await askServer(q));
    } catch (err) {
      document.getElementById("ask-reading").textContent = String(err.message || err);
      document.getElementById("ask-results").replaceChildren();
    }
  }

  // --- incident list --------------------------------------------------------------------

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

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("ask-form").addEventListener("submit", ask);
    start(refresh, 5000);
    const asked = new URLSearchParams(location.search).get("q");
    if (asked && localStorage.getItem("opscope.token")) {
      document.getElementById("ask-q").value = asked;
      ask();
    }
  });
})();
