// A line chart in hand-written SVG: one series' values, its expected band (shaded, with
// the expected value dashed) and its anomaly marks, with time and value axes.
(function () {
  "use strict";
  const { svg, el } = window.opscope;
  const W = 640, H = 240, M = { left: 64, right: 12, top: 12, bottom: 28 };
  const number = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });

  function fmt(v) {
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(2) : number.format(v);
  }

  // The base unit a Prometheus-style name declares by its suffix (as opscope.model.units).
  function unitOf(metric) {
    let name = String(metric || "").replace(/\{.*\}$/, "").toLowerCase();
    name = name.replace(/_(total|sum|count|bucket|created)$/, "");
    const m = name.match(/(?:^|_)(bytes|seconds|ratio|percent|celsius)$/);
    return m ? m[1] : "";
  }

  // A value written in its metric's unit: "1.26 GiB", "955 ms", "0.52%".
  function quantity(v, metric) {
    if (!isNum(v)) return String(v);
    const unit = unitOf(metric), a = Math.abs(v);
    if (unit === "bytes") {
      const names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
      let i = 0, x = v;
      while (Math.abs(x) >= 1024 && i < names.length - 1) { x /= 1024; i++; }
      return `${number.format(x)} ${names[i]}`;
    }
    if (unit === "seconds") {
      if (a === 0) return "0 s";
      if (a < 1e-3) return `${number.format(v * 1e6)} \u00b5s`;
      if (a < 1) return `${number.format(v * 1e3)} ms`;
      if (a < 120) return `${number.format(v)} s`;
      if (a < 7200) return `${number.format(v / 60)} min`;
      return `${number.format(v / 3600)} h`;
    }
    if (unit === "ratio") return `${number.format(v * 100)}%`;
    if (unit === "percent") return `${number.format(v)}%`;
    if (unit === "celsius") return `${number.format(v)} \u00b0C`;
    for (const [scale, prefix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
      if (a >= scale) return `${number.format(v / scale)}${prefix}`;
    }
    return fmt(v);
  }

  function clock(ms, spanMs) {
    const d = new Date(ms);
    const opts = spanMs > 36 * 3600e3 ? { month: "short", day: "numeric", hour: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" };
    return d.toLocaleString(undefined, opts);
  }

  // Runs of consecutive points whose value(s) are all numbers: gaps break lines and bands.
  function runs(rows, ok) {
    const out = [];
    let cur = [];
    for (const r of rows) {
      if (ok(r)) cur.push(r);
      else if (cur.length) { out.push(cur); cur = []; }
    }
    if (cur.length) out.push(cur);
    return out;
  }

  const isNum = (v) => typeof v === "number" && isFinite(v);

  // series: {points: [[ms, v]], band: [[ms, expected, lower, upper]], anomalies: [[ms, score, dir]]}
  // options: {marker: {ms, label}} draws a vertical line, e.g. when the incident opened;
  // {metric: name} writes the value axis in the unit the metric's name declares.
  function lineChart(box, series, options) {
    const opts = options || {};
    const points = (series.points || []).filter((p) => isNum(p[0]));
    const band = (series.band || []).filter((b) => isNum(b[0]));
    const marks = series.anomalies || [];
    if (!points.some((p) => isNum(p[1]))) {
      box.replaceChildren(el("p", opts.emptyText || "No samples of this series in the window.",
        "muted empty"));
      return null;
    }
    const xs = points.map((p) => p[0]).concat(band.map((b) => b[0]));
    const ys = points.map((p) => p[1]).filter(isNum);
    for (const b of band) for (const v of [b[2], b[3]]) if (isNum(v)) ys.push(v);
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    if (x1 === x0) { x0 -= 60e3; x1 += 60e3; }
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.06;
    y0 -= pad; y1 += pad;
    const X = (ms) => M.left + ((ms - x0) / (x1 - x0)) * (W - M.left - M.right);
    const Y = (v) => H - M.bottom - ((v - y0) / (y1 - y0)) * (H - M.top - M.bottom);
    // Data goes only into text nodes (the title), never into attributes.
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "line-chart", role: "img" });
    if (opts.title) root.append(svg("title", {}, opts.title));

    const axes = svg("g", { class: "axes" });
    for (let i = 0; i <= 4; i++) {
      const v = y0 + ((y1 - y0) * i) / 4;
      axes.append(svg("line", { x1: M.left, x2: W - M.right, y1: Y(v), y2: Y(v), class: "grid" }),
        svg("text", { x: M.left - 6, y: Y(v) + 4, "text-anchor": "end" },
          opts.metric ? quantity(v, opts.metric) : fmt(v)));
    }
    for (let i = 0; i <= 4; i++) {
      const ms = x0 + ((x1 - x0) * i) / 4;
      const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
      axes.append(svg("text", { x: X(ms), y: H - 8, "text-anchor": anchor }, clock(ms, x1 - x0)));
    }
    root.append(axes);

    for (const run of runs(band, (b) => isNum(b[2]) && isNum(b[3]))) {
      const upper = run.map((b) => `${X(b[0]).toFixed(1)},${Y(b[3]).toFixed(1)}`);
      const lower = run.slice().reverse().map((b) => `${X(b[0]).toFixed(1)},${Y(b[2]).toFixed(1)}`);
      root.append(svg("polygon", { points: upper.concat(lower).join(" "), class: "band" }));
    }
    for (const run of runs(band, (b) => isNum(b[1]))) {
      root.append(svg("path", { d: path(run.map((b) => [X(b[0]), Y(b[1])])), class: "expected" }));
    }
    if (opts.marker && isNum(opts.marker.ms) && opts.marker.ms >= x0 && opts.marker.ms <= x1) {
      const mx = X(opts.marker.ms);
      root.append(svg("line", { x1: mx, x2: mx, y1: M.top, y2: H - M.bottom, class: "marker" }),
        svg("text", { x: mx + 4, y: M.top + 10, class: "marker-label" }, opts.marker.label || ""));
    }
    for (const run of runs(points, (p) => isNum(p[1]))) {
      if (run.length === 1) {
        root.append(svg("circle", { cx: X(run[0][0]), cy: Y(run[0][1]), r: 2, class: "dot" }));
      } else {
        root.append(svg("path", { d: path(run.map((p) => [X(p[0]), Y(p[1])])), class: "series-line" }));
      }
    }
    const valued = points.filter((p) => isNum(p[1]));
    for (const m of marks) {
      if (!isNum(m[0]) || m[0] < x0 || m[0] > x1) continue;
      const near = nearest(valued, m[0]);
      const g = svg("g", { class: "anomaly-mark" });
      g.append(svg("circle", { cx: X(m[0]), cy: near ? Y(near[1]) : M.top + 4, r: 4 }),
        svg("title", {}, `anomaly ${m[2] || ""} score ${isNum(m[1]) ? m[1].toFixed(1) : "?"} at `
          + new Date(m[0]).toLocaleTimeString()));
      root.append(g);
    }
    box.replaceChildren(root);
    return root;
  }

  function path(xy) {
    return xy.map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
  }

  function nearest(sorted, ms) {
    let best = null;
    for (const p of sorted) if (!best || Math.abs(p[0] - ms) < Math.abs(best[0] - ms)) best = p;
    return best;
  }

  window.opscopeChart = { lineChart, quantity };
})();
