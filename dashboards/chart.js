/* chart.js: small SVG charts (no dependencies): GwChart.render(el, opts) time-series lines, GwChart.sparkline(opts) for table cells. */
"use strict";
(function (global) {
  var SVGNS = "http://www.w3.org/2000/svg";
  /* Drawing size in CSS pixels: the container's width, so text is never scaled. */
  var W = 900, H = 240, PAD_L = 78, PAD_R = 14, PAD_T = 26, PAD_B = 30;
  var MAX_DRAWN = 1500;   /* points per series after bucketing */

  function el(name, attrs, text) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* A "nice" upper bound and step for ticks from 0 to max. */
  function niceScale(max, ticks) {
    if (!(max > 0)) return { max: 1, step: 0.2 };
    var raw = max / ticks, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    var step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;   /* no 2.5: labels stay exact */
    return { max: Math.ceil(max / step) * step, step: step };
  }

  function pad2(n) { return n < 10 ? "0" + n : "" + n; }
  function timeLabel(t, span) {
    var d = new Date(t * 1000), hm = pad2(d.getHours()) + ":" + pad2(d.getMinutes());
    if (span <= 2 * 86400) return span <= 600 ? hm + ":" + pad2(d.getSeconds()) : hm;
    return (d.getMonth() + 1) + "/" + d.getDate() + (span <= 8 * 86400 ? " " + hm : "");
  }

  /* Averages runs of points so that at most MAX_DRAWN remain; nulls stay gaps. */
  function bucket(points) {
    if (points.length <= MAX_DRAWN) return points;
    var per = Math.ceil(points.length / MAX_DRAWN), out = [];
    for (var i = 0; i < points.length; i += per) {
      var sum = 0, n = 0, t = points[Math.min(i + per, points.length) - 1][0];
      for (var j = i; j < Math.min(i + per, points.length); j++)
        if (points[j][1] !== null && isFinite(points[j][1])) { sum += points[j][1]; n++; }
      out.push([t, n ? sum / n : null]);
    }
    return out;
  }

  /* Splits points into runs of known values (a null ends a run). */
  function segments(points) {
    var segs = [], cur = [];
    points.forEach(function (p) {
      if (p[1] === null || !isFinite(p[1])) { if (cur.length) segs.push(cur); cur = []; }
      else cur.push(p);
    });
    if (cur.length) segs.push(cur);
    return segs;
  }

  function drawAxes(svg, sc, from, to, fmt) {
    var span = to - from;
    for (var v = 0; v <= sc.max + sc.step / 2; v += sc.step) {
      var y = PAD_T + (H - PAD_T - PAD_B) * (1 - v / sc.max);
      svg.appendChild(el("line", { x1: PAD_L, x2: W - PAD_R, y1: y, y2: y, "class": v === 0 ? "axis" : "gridline" }));
      svg.appendChild(el("text", { x: PAD_L - 6, y: y + 4, "text-anchor": "end", "class": "tick" }, fmt(v)));
    }
    for (var i = 0; i <= 5; i++) {
      var t = from + span * i / 5, x = PAD_L + (W - PAD_L - PAD_R) * i / 5;
      svg.appendChild(el("text", { x: x, y: H - 8, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle",
        "class": "tick" }, timeLabel(t, span)));
    }
  }

  function drawSeries(svg, s, sc, from, to) {
    var xs = (W - PAD_L - PAD_R) / (to - from), ys = (H - PAD_T - PAD_B) / sc.max, drawn = 0;
    segments(bucket(s.points)).forEach(function (seg) {
      var pts = seg.filter(function (p) { return p[0] >= from && p[0] <= to; }).map(function (p) {
        return (PAD_L + (p[0] - from) * xs).toFixed(1) + "," + (H - PAD_B - Math.min(p[1], sc.max) * ys).toFixed(1);
      });
      if (!pts.length) return;
      drawn += pts.length;
      /* A run narrower than a few pixels (one point, or seconds in a day) would be invisible: mark its end. */
      var x0 = parseFloat(pts[0]), xy = pts[pts.length - 1].split(",");
      if (parseFloat(xy[0]) - x0 < 4)
        svg.appendChild(el("circle", { cx: xy[0], cy: xy[1], r: 3, fill: s.color }));
      svg.appendChild(el("polyline", { points: pts.join(" "), stroke: s.color, "data-series": s.name }));
    });
    return drawn;
  }

  function drawLegend(svg, series, fmt) {
    var x = PAD_L;
    series.forEach(function (s) {
      var last = null;
      for (var i = s.points.length - 1; i >= 0; i--) if (s.points[i][1] !== null) { last = s.points[i][1]; break; }
      svg.appendChild(el("rect", { x: x, y: 8, width: 14, height: 4, fill: s.color }));
      var label = s.name + (last === null ? "" : "  last " + fmt(last));
      svg.appendChild(el("text", { x: x + 20, y: 15, "class": "legend-text" }, label));
      x += 40 + label.length * 8;
    });
  }

  /*
   * Replaces the content of container with a chart.
   * opts: { title, from, to (epoch s), format(v) -> string,
   *         height (px, optional), series: [{ name, color, points: [[t, v|null], ...] }] }
   * Returns the number of points drawn (also in svg's data-points).
   */
  function render(container, opts) {
    W = Math.max(320, Math.round(container.clientWidth || 900));
    H = opts.height || (W > 700 ? 260 : 200);
    var fmt = opts.format || function (v) { return String(v); };
    var max = 0, known = 0;
    opts.series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p[1] !== null && isFinite(p[1]) && p[0] >= opts.from && p[0] <= opts.to) { known++; if (p[1] > max) max = p[1]; }
      });
    });
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "class": "gw-chart",
      "aria-label": (opts.title || "chart") + (known ? "" : ": no data in this range") });
    var sc = niceScale(max * 1.05, 4), drawn = 0;
    drawAxes(svg, sc, opts.from, opts.to, fmt);
    if (known) {
      opts.series.forEach(function (s) { drawn += drawSeries(svg, s, sc, opts.from, opts.to); });
      drawLegend(svg, opts.series, fmt);
    } else {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty-msg" },
        "no data in this range"));
    }
    svg.setAttribute("data-points", String(drawn));
    container.replaceChildren(svg);
    return drawn;
  }

  /*
   * A sparkline: an inline SVG (width x height CSS px) with one polyline per series on a shared
   * scale from 0 to the largest value; time on x from the first to the last of ts.
   * opts: { ts: [t...], series: [{ name, cls, values: [v...] }], width, height, label }
   * Returns the SVG element; data-points holds the points drawn (0: a "no data" dash).
   */
  function sparkline(opts) {
    var w = opts.width || 120, h = opts.height || 28, ts = opts.ts || [], max = 0, drawn = 0;
    var svg = el("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h, "class": "spark", role: "img",
      "aria-label": opts.label || "sparkline" });
    opts.series.forEach(function (s) { s.values.forEach(function (v) { if (isFinite(v) && v > max) max = v; }); });
    var t0 = ts.length ? ts[0] : 0, span = ts.length > 1 ? ts[ts.length - 1] - t0 : 0;
    svg.appendChild(el("line", { x1: 0, x2: w, y1: h - 1, y2: h - 1, "class": "spark-base" }));
    opts.series.forEach(function (s) {
      var pts = [];
      s.values.forEach(function (v, i) {
        if (!isFinite(v) || i >= ts.length) return;
        var x = span > 0 ? (ts[i] - t0) / span * (w - 2) + 1 : w - 2;
        var y = max > 0 ? (h - 2) - v / max * (h - 4) : h - 2;
        pts.push(x.toFixed(1) + "," + y.toFixed(1));
      });
      if (!pts.length) return;
      if (pts.length === 1) pts.unshift("1," + pts[0].split(",")[1]);   /* one interval: a flat line */
      drawn += pts.length;
      svg.appendChild(el("polyline", { points: pts.join(" "), "class": s.cls || "", "data-series": s.name }));
    });
    svg.setAttribute("data-points", String(drawn));
    return svg;
  }

  global.GwChart = { render: render, sparkline: sparkline, niceScale: niceScale };
})(window);
