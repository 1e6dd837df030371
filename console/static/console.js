// coord web console: optional enhancements. Every page works without this
// script; it adds path completion, live child lists and live charts.
// It builds DOM nodes only (no innerHTML from data), so znode names and
// data stay text.
(function () {
  "use strict";
  var page = document.body.getAttribute("data-page");

  // Path box completion: suggest the children of the directory typed so far.
  var box = document.getElementById("pathbox");
  var list = document.getElementById("completions");
  if (box && list) {
    var timer = null, lastQuery = "";
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var v = box.value;
        var i = v.lastIndexOf("/");
        if (i < 0) return;
        var dir = v.slice(0, i) || "/";
        var prefix = v.slice(i + 1);
        var q = "dir=" + encodeURIComponent(dir) + "&prefix=" + encodeURIComponent(prefix);
        if (q === lastQuery) return;
        lastQuery = q;
        fetch("api/children?" + q, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { paths: [] }; })
          .then(function (d) {
            while (list.firstChild) list.removeChild(list.firstChild);
            (d.paths || []).forEach(function (p) {
              var o = document.createElement("option");
              o.value = p;
              list.appendChild(o);
            });
          })
          .catch(function () {});
      }, 150);
    });
  }

  // Tree page: refresh the children list and stat while the page is open,
  // so a new child appears without a reload.
  if (page === "tree" && /\/$/.test(location.pathname) && document.getElementById("children")) {
    var busy = false;
    var refresh = function () {
      if (busy || document.visibilityState !== "visible") return;
      var kids = document.getElementById("children");
      if (!kids) return;
      // Leave the section alone while the user works in it.
      if (kids.contains(document.activeElement) && document.activeElement !== document.body) return;
      if (kids.querySelector("details[open]")) return;
      busy = true;
      fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          ["children", "stat"].forEach(function (id) {
            var fresh = doc.getElementById(id), cur = document.getElementById(id);
            if (fresh && cur && fresh.innerHTML !== cur.innerHTML) {
              cur.replaceWith(document.importNode(fresh, true));
            }
          });
        })
        .catch(function () {})
        .then(function () { busy = false; });
    };
    setInterval(refresh, 2000);
  }

  // Ensemble page: sample /api/stats every second and chart the last two
  // minutes in plain SVG.
  if (page === "ensemble") {
    var SVG = "http://www.w3.org/2000/svg";
    var W = 320, H = 120, L = 34, R = 6, T = 8, B = 18, KEEP = 60;
    var samples = [];
    var series = {
      ops: function (s, p) { return p ? Math.max(0, (s.zxid - p.zxid) * 1000 / Math.max(1, s.t - p.t)) : null; },
      sync: function (s) { return s.syncMs >= 0 ? s.syncMs : null; },
      znodes: function (s) { return s.znodes; },
      sessions: function (s) { return s.sessions; }
    };
    var hint = document.getElementById("charts-hint");
    if (hint) hint.textContent = "Sampled every second from this node while the page is open: the last minute. Sync round-trip is a sync through the leader, as a client's sync() makes.";
    var el = function (name, attrs, text) {
      var e = document.createElementNS(SVG, name);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    var fmt = function (v) {
      if (v === null || v === undefined) return "—";
      if (Number.isInteger(v)) return v.toLocaleString("en-US");
      if (v >= 1000) return Math.round(v).toLocaleString("en-US");
      if (v >= 10) return v.toFixed(0);
      if (v >= 1) return v.toFixed(1);
      return v.toFixed(2);
    };
    var bytes = function (n) {
      var u = ["B", "KiB", "MiB", "GiB"], i = 0;
      while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
      return (i === 0 ? String(n) : n.toFixed(1)) + " " + u[i];
    };
    var niceMax = function (m) {
      if (m <= 0) return 1;
      var p = Math.pow(10, Math.floor(Math.log10(m)));
      var f = m / p;
      return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    };
    var draw = function (fig, key) {
      var svg = fig.querySelector("svg");
      var vals = [];
      for (var i = 0; i < samples.length; i++) vals.push(series[key](samples[i], samples[i - 1]));
      var cur = fig.querySelector(".cur");
      var last = vals.length ? vals[vals.length - 1] : null;
      if (cur) cur.textContent = fmt(last);
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      var max = 0;
      vals.forEach(function (v) { if (v !== null && v > max) max = v; });
      max = niceMax(max * 1.1);
      var x = function (i) { return L + (W - L - R) * (KEEP - (vals.length - 1 - i) - 1) / (KEEP - 1); };
      var y = function (v) { return T + (H - T - B) * (1 - v / max); };
      [0, 0.5, 1].forEach(function (f) {
        var yy = y(max * f);
        svg.appendChild(el("line", { x1: L, x2: W - R, y1: yy, y2: yy, "class": "grid-line" }));
        svg.appendChild(el("text", { x: L - 4, y: yy + 3, "text-anchor": "end", "class": "axis" }, fmt(max * f)));
      });
      svg.appendChild(el("text", { x: L, y: H - 4, "class": "axis" }, "−1 min"));
      svg.appendChild(el("text", { x: W - R, y: H - 4, "text-anchor": "end", "class": "axis" }, "now"));
      var pts = [];
      vals.forEach(function (v, i) { if (v !== null) pts.push([x(i), y(v)]); });
      if (pts.length < 2) return;
      var line = pts.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" ");
      var base = y(0).toFixed(1);
      svg.appendChild(el("polygon", { points: pts[0][0].toFixed(1) + "," + base + " " + line + " " + pts[pts.length - 1][0].toFixed(1) + "," + base, "class": "area" }));
      svg.appendChild(el("polyline", { points: line, "class": "line" }));
    };
    var figs = document.querySelectorAll("figure.chart");
    var tick = function () {
      fetch("api/stats", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          samples.push(s);
          if (samples.length > KEEP) samples.shift();
          var cells = document.querySelectorAll("[data-stat]");
          for (var j = 0; j < cells.length; j++) {
            var k = cells[j].getAttribute("data-stat");
            if (s[k] === undefined) continue;
            cells[j].textContent = k === "dataSize" ? bytes(s[k]) : String(s[k]);
          }
          for (var i = 0; i < figs.length; i++) draw(figs[i], figs[i].getAttribute("data-series"));
        })
        .catch(function () {});
    };
    tick();
    setInterval(tick, 1000);
  }
})();
