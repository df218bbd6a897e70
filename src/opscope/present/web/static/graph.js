// The root-cause graph in hand-written SVG: a layered layout by dependency direction.
// An edge source -> target means source calls, depends on or runs on target, so callers
// sit above what they depend on and trouble travels upwards.
(function () {
  "use strict";
  const { svg, el } = window.opscope;
  const NODE_W = 156, NODE_H = 40, GAP_X = 28, GAP_Y = 64, PAD = 16, MAX_LABEL = 20;
  const ROLE_ORDER = { cause1: 0, cause2: 1, cause3: 2, affected: 3, neighbour: 4 };

  // Longest-path layering; relaxing |nodes| times bounds the work when there are cycles.
  function layers(ids, edges) {
    const layer = new Map(ids.map((id) => [id, 0]));
    for (let round = 0; round < ids.length; round++) {
      let moved = false;
      for (const e of edges) {
        const want = layer.get(e.source) + 1;
        if (want > layer.get(e.target) && want < ids.length) { layer.set(e.target, want); moved = true; }
      }
      if (!moved) break;
    }
    return layer;
  }

  // Rows in layer order; within a row, two barycentre sweeps reduce crossings.
  function ordered(nodes, edges, layer) {
    const rows = [];
    for (const n of nodes) (rows[layer.get(n.id)] = rows[layer.get(n.id)] || []).push(n);
    const filled = rows.filter(Boolean);
    for (const row of filled) {
      row.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.id.localeCompare(b.id));
    }
    const pos = new Map();
    const index = () => filled.forEach((row) => row.forEach((n, i) => pos.set(n.id, i / Math.max(1, row.length - 1))));
    index();
    const neighbours = new Map(nodes.map((n) => [n.id, []]));
    for (const e of edges) { neighbours.get(e.source).push(e.target); neighbours.get(e.target).push(e.source); }
    for (let sweep = 0; sweep < 2; sweep++) {
      for (const row of filled) {
        const centre = new Map(row.map((n) => {
          const around = neighbours.get(n.id).filter((m) => layer.get(m) !== layer.get(n.id));
          const c = around.length ? around.reduce((s, m) => s + pos.get(m), 0) / around.length : pos.get(n.id);
          return [n.id, c];
        }));
        row.sort((a, b) => centre.get(a.id) - centre.get(b.id) || a.id.localeCompare(b.id));
        index();
      }
    }
    return filled;
  }

  function short(text) {
    return text.length > MAX_LABEL ? text.slice(0, MAX_LABEL - 1) + "…" : text;
  }

  // nodes: [{id, role, kind, affected, rank}], edges: [{source, target, kind}]
  function render(box, nodes, edges, options) {
    const opts = options || {};
    if (!nodes.length) {
      box.replaceChildren(el("p", "No entity to draw yet.", "muted empty"));
      return null;
    }
    const ids = nodes.map((n) => n.id);
    const known = new Set(ids);
    const drawn = edges.filter((e) => known.has(e.source) && known.has(e.target) && e.source !== e.target);
    const layer = layers(ids, drawn);
    const rows = ordered(nodes, drawn, layer);
    const widest = Math.max(...rows.map((r) => r.length));
    const width = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X;
    const height = PAD * 2 + rows.length * NODE_H + (rows.length - 1) * GAP_Y;
    const at = new Map();
    rows.forEach((row, r) => {
      const rowWidth = row.length * NODE_W + (row.length - 1) * GAP_X;
      const left = (width - rowWidth) / 2;
      row.forEach((n, i) => at.set(n.id, { x: left + i * (NODE_W + GAP_X), y: PAD + r * (NODE_H + GAP_Y) }));
    });
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "rc-graph", role: "img",
      "aria-label": "root-cause graph", width: width, style: `max-width:100%;height:auto` });
    const defs = svg("defs");
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }));
    defs.append(marker);
    root.append(defs);

    const edgeLayer = svg("g", { class: "edges" });
    for (const e of drawn) {
      const a = at.get(e.source), b = at.get(e.target);
      let d;
      if (b.y > a.y) {
        const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y;
        const my = (y1 + y2) / 2;
        d = `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`;
      } else {
        // Same row or upwards (a cycle): bend out to the side.
        const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x + NODE_W, y2 = b.y + NODE_H / 2;
        const bend = Math.max(x1, x2) + GAP_X;
        d = `M${x1},${y1} C${bend},${y1} ${bend},${y2} ${x2},${y2}`;
      }
      const g = svg("g", { class: "edge kind-" + e.kind });
      g.append(svg("path", { d, "marker-end": "url(#arrow)" }),
        svg("title", {}, `${e.source} ${String(e.kind || "calls").replace("_", " ")} ${e.target}`));
      edgeLayer.append(g);
    }
    root.append(edgeLayer);

    const nodeLayer = svg("g", { class: "nodes" });
    for (const n of nodes) {
      const p = at.get(n.id);
      const cls = ["node", "role-" + n.role];
      if (n.affected) cls.push("is-affected");
      if (opts.selected === n.id) cls.push("selected");
      const g = svg("g", { class: cls.join(" "), transform: `translate(${p.x},${p.y})`,
        tabindex: 0, role: "button" });
      const sub = [n.rank ? "#" + n.rank + " cause" : null, n.kind, n.affected && n.rank ? "affected" : null]
        .filter(Boolean).join(" · ");
      g.append(svg("rect", { width: NODE_W, height: NODE_H, rx: 6, ry: 6 }),
        svg("text", { x: NODE_W / 2, y: 17, "text-anchor": "middle", class: "label" }, short(n.id)),
        svg("text", { x: NODE_W / 2, y: 32, "text-anchor": "middle", class: "sub" }, sub),
        svg("title", {}, n.id + (sub ? " (" + sub + ")" : "")));
      if (opts.onSelect) {
        g.addEventListener("click", () => opts.onSelect(n.id));
        g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") opts.onSelect(n.id); });
      }
      nodeLayer.append(g);
    }
    root.append(nodeLayer);
    box.replaceChildren(root);
    return root;
  }

  window.opscopeGraph = { render };
})();
