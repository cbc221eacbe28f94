/* paperatlas topic map: draws the inline JSON with plotly.js; fetches nothing. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("paperatlas-data").textContent);
  var gd = document.getElementById("pa-map");
  var N = DATA.ids.length;
  var X = DATA.x, Y = DATA.y;
  var FINE = DATA.layers[0].of;
  var LOWER = DATA.titles.map(function (t) { return t.toLowerCase(); });
  var INDEX = {};
  DATA.ids.forEach(function (id, i) { INDEX[id] = i; });
  var TOPICS = DATA.layers.map(function (layer) {
    var byId = {};
    layer.topics.forEach(function (t) { byId[t.id] = t; });
    return byId;
  });
  var PAPERS = 0, NOISE = 1, MATCHES = 2, SELECTED = 3;
  var SIZE = N > 20000 ? 3 : N > 5000 ? 4 : N > 1500 ? 5 : 7;
  var BASE_OPACITY = [0.85, 0.5];
  var DIMMED_OPACITY = [0.18, 0.12];

  var api = { ready: false, paperCount: N };
  window.paperatlas = api;

  if (typeof window.Plotly === "undefined") {
    gd.innerHTML = '<p class="pa-error">plotly.js did not load.</p>';
    return;
  }

  function webglAvailable() {
    try {
      var canvas = document.createElement("canvas");
      return !!(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
    } catch (e) {
      return false;
    }
  }
  var USE_GL = /(^|[#&])svg\b/.test(location.hash.slice(1)) ? false : webglAvailable();
  var TYPE = USE_GL ? "scattergl" : "scatter";

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function wrap(text, width) {
    var words = String(text).split(/\s+/), lines = [], line = "";
    words.forEach(function (w) {
      if (line && (line + " " + w).length > width) { lines.push(line); line = w; }
      else { line = line ? line + " " + w : w; }
    });
    if (line) lines.push(line);
    return lines.map(esc).join("<br>");
  }
  function topicOf(i, layer) {
    var tid = DATA.layers[layer].of[i];
    return tid < 0 ? null : TOPICS[layer][tid] || null;
  }
  function topicLabel(i) {
    var t = topicOf(i, 0);
    return t ? t.name : "no topic (noise)";
  }
  function colourOf(i) {
    return FINE[i] < 0 ? DATA.noiseColour : DATA.colours[FINE[i]] || DATA.noiseColour;
  }
  function hover(i) {
    var lines = ["<b>" + wrap(DATA.titles[i], 70) + "</b>", esc(topicLabel(i))];
    if (DATA.dates[i]) lines.push(esc(DATA.dates[i]));
    return lines.join("<br>");
  }

  function traceOf(indices, name, marker) {
    return {
      type: TYPE, mode: "markers", name: name, meta: name,
      x: indices.map(function (i) { return X[i]; }),
      y: indices.map(function (i) { return Y[i]; }),
      customdata: indices.slice(),
      text: indices.map(hover),
      hovertemplate: "%{text}<extra></extra>",
      marker: marker
    };
  }

  var topical = [], noise = [];
  for (var i = 0; i < N; i++) (FINE[i] < 0 ? noise : topical).push(i);
  var traces = [
    traceOf(topical, "papers", {
      size: SIZE, color: topical.map(colourOf), opacity: BASE_OPACITY[0], line: { width: 0 }
    }),
    traceOf(noise, "noise", {
      size: Math.max(2, SIZE - 2), color: DATA.noiseColour, opacity: BASE_OPACITY[1], line: { width: 0 }
    }),
    traceOf([], "matches", {
      size: SIZE + 5, color: "#ffd400", opacity: 1, line: { width: 1.5, color: "#111111" }
    }),
    traceOf([], "selected", {
      size: SIZE + 14, color: "#111111", symbol: "circle-open", opacity: 1,
      line: { width: 3, color: "#111111" }
    })
  ];
  var FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif";
  var layout = {
    margin: { l: 8, r: 8, t: 8, b: 8 },
    showlegend: false,
    hovermode: "closest",
    dragmode: "pan",
    plot_bgcolor: "#ffffff",
    paper_bgcolor: "#ffffff",
    font: { family: FONT, size: 12, color: "#1d1d1f" },
    hoverlabel: { align: "left", font: { family: FONT, size: 12 } },
    xaxis: { showgrid: false, zeroline: false, showticklabels: false, ticks: "", showline: false },
    yaxis: { showgrid: false, zeroline: false, showticklabels: false, ticks: "", showline: false },
    annotations: []
  };
  var config = {
    responsive: true,
    scrollZoom: true,
    displaylogo: false,
    showLink: false,
    showSendToCloud: false,
    showEditInChartStudio: false,
    showTips: false,
    typesetMath: false,
    topojsonURL: "",
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
    toImageButtonOptions: { filename: "paperatlas-map", format: "png", scale: 2 }
  };

  /* ---------- labels: the finest layer with at most maxLabels centres in view ---------- */
  function ranges() {
    var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    return {
      x0: Math.min(xa.range[0], xa.range[1]), x1: Math.max(xa.range[0], xa.range[1]),
      y0: Math.min(ya.range[0], ya.range[1]), y1: Math.max(ya.range[0], ya.range[1]),
      xa: xa, ya: ya
    };
  }
  function chooseLabels() {
    var r = ranges();
    var inView = function (t) { return t.x >= r.x0 && t.x <= r.x1 && t.y >= r.y0 && t.y <= r.y1; };
    var layer = DATA.layers.length - 1, visible = null;
    for (var k = 0; k < DATA.layers.length; k++) {
      var v = DATA.layers[k].topics.filter(inView);
      if (v.length <= DATA.maxLabels) { layer = k; visible = v; break; }
    }
    if (visible === null) visible = DATA.layers[layer].topics.filter(inView);
    var fontSize = layer === 0 ? 12 : 14, boxes = [], kept = [];
    visible.slice().sort(function (a, b) { return b.size - a.size; }).forEach(function (t) {
      if (kept.length >= DATA.maxLabels) return;
      var lines = wrap(t.name, 24).split("<br>");
      var longest = Math.max.apply(null, lines.map(function (l) { return l.length; }));
      var w = longest * fontSize * 0.58 + 10, h = lines.length * fontSize * 1.25 + 8;
      var px = r.xa.l2p(t.x), py = r.ya.l2p(t.y);
      var box = [px - w / 2, py - h / 2, px + w / 2, py + h / 2];
      var clash = boxes.some(function (b) {
        return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3];
      });
      if (!clash) { boxes.push(box); kept.push(t); }
    });
    return { layer: layer, topics: kept, fontSize: fontSize };
  }
  function annotationsFor(pick) {
    return pick.topics.map(function (t) {
      return {
        x: t.x, y: t.y, xref: "x", yref: "y", showarrow: false,
        text: (pick.layer === 0 ? "" : "<b>") + wrap(t.name, 24) + (pick.layer === 0 ? "" : "</b>"),
        font: { size: pick.fontSize, color: "#111111", family: FONT },
        bgcolor: "rgba(255,255,255,0.80)",
        bordercolor: pick.layer === 0 ? DATA.colours[t.id] || "#444444" : "#444444",
        borderwidth: 1, borderpad: 3, opacity: 1, captureevents: false,
        name: "L" + pick.layer + ":" + t.id
      };
    });
  }
  var labelSignature = "", labelLayer = 0, updatingLabels = false;
  function refreshLabels() {
    var pick = chooseLabels();
    var signature = pick.layer + ":" + pick.topics.map(function (t) { return t.id; }).join(",");
    if (signature === labelSignature) return Promise.resolve();
    labelSignature = signature;
    labelLayer = pick.layer;
    updatingLabels = true;
    return Plotly.relayout(gd, { annotations: annotationsFor(pick) }).then(
      function () { updatingLabels = false; },
      function () { updatingLabels = false; }
    );
  }

  /* ---------- search ---------- */
  var input = document.getElementById("pa-search");
  var countEl = document.getElementById("pa-count");
  var searchQuery = "";
  function search(text) {
    var q = String(text == null ? "" : text).trim().toLowerCase();
    searchQuery = q;
    if (input.value.trim().toLowerCase() !== q) input.value = String(text == null ? "" : text);
    var hits = [];
    if (q) for (var i = 0; i < N; i++) if (LOWER[i].indexOf(q) >= 0) hits.push(i);
    countEl.textContent = q ? hits.length + (hits.length === 1 ? " match" : " matches") : "";
    var opacity = q && hits.length ? DIMMED_OPACITY : BASE_OPACITY;
    return Plotly.restyle(gd, {
      x: [hits.map(function (i) { return X[i]; })],
      y: [hits.map(function (i) { return Y[i]; })],
      customdata: [hits],
      text: [hits.map(hover)]
    }, [MATCHES]).then(function () {
      return Plotly.restyle(gd, { "marker.opacity": opacity }, [PAPERS, NOISE]);
    }).then(function () { return hits.length; });
  }
  var searchTimer = null;
  input.addEventListener("input", function () {
    clearTimeout(searchTimer);
    var value = input.value;
    searchTimer = setTimeout(function () { search(value); }, N > 5000 ? 150 : 60);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { input.value = ""; search(""); }
  });

  /* ---------- side panel ---------- */
  var panel = document.getElementById("pa-panel");
  var selectedIndex = -1;
  function setText(id, text) { document.getElementById(id).textContent = text; }
  function showPanel(i) {
    setText("pa-paper-title", DATA.titles[i]);
    setText("pa-paper-meta", [DATA.dates[i] || "no date", "id " + DATA.ids[i]].join(" · "));
    var topicEl = document.getElementById("pa-paper-topic");
    topicEl.textContent = "";
    var swatch = document.createElement("span");
    swatch.className = "pa-swatch";
    swatch.style.background = colourOf(i);
    topicEl.appendChild(swatch);
    var path = [];
    for (var k = DATA.layers.length - 1; k >= 0; k--) {
      var t = topicOf(i, k);
      if (t) path.push(t.name);
    }
    topicEl.appendChild(document.createTextNode(path.length ? path.join(" › ") : "no topic (noise)"));
    var fine = topicOf(i, 0);
    setText("pa-paper-terms", fine && fine.keyterms.length ? "key terms: " + fine.keyterms.join(", ") : "");
    setText("pa-paper-abstract", DATA.abstracts[i] || "(no abstract)");
    var list = document.getElementById("pa-neighbours");
    list.textContent = "";
    DATA.nb[i].forEach(function (j) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "pa-nb";
      button.dataset.id = DATA.ids[j];
      button.textContent = DATA.titles[j];
      button.addEventListener("click", function () { select(DATA.ids[j], { pan: true }); });
      var meta = document.createElement("span");
      meta.className = "pa-nb-meta";
      meta.textContent = [topicLabel(j), DATA.dates[j]].filter(Boolean).join(" · ");
      item.appendChild(button);
      item.appendChild(meta);
      list.appendChild(item);
    });
    if (!DATA.nb[i].length) {
      var none = document.createElement("li");
      none.textContent = "none recorded";
      list.appendChild(none);
    }
    var wasHidden = panel.hidden;
    panel.hidden = false;
    panel.scrollTop = 0;
    return wasHidden ? Plotly.Plots.resize(gd) : Promise.resolve();
  }
  function closePanel() {
    selectedIndex = -1;
    panel.hidden = true;
    return Plotly.restyle(gd, { x: [[]], y: [[]], customdata: [[]], text: [[]] }, [SELECTED])
      .then(function () { return Plotly.Plots.resize(gd); });
  }
  document.getElementById("pa-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden && document.activeElement !== input) closePanel();
  });

  function select(id, options) {
    var i = typeof id === "number" ? id : INDEX[String(id)];
    if (i === undefined || i < 0 || i >= N) return Promise.reject(new Error("no paper " + id));
    selectedIndex = i;
    var done = Plotly.restyle(gd, {
      x: [[X[i]]], y: [[Y[i]]], customdata: [[i]], text: [[hover(i)]]
    }, [SELECTED]).then(function () { return showPanel(i); });
    if (options && options.pan) {
      done = done.then(function () {
        var r = ranges();
        if (X[i] >= r.x0 && X[i] <= r.x1 && Y[i] >= r.y0 && Y[i] <= r.y1) return;
        var hx = (r.x1 - r.x0) / 2, hy = (r.y1 - r.y0) / 2;
        return Plotly.relayout(gd, {
          "xaxis.range": [X[i] - hx, X[i] + hx], "yaxis.range": [Y[i] - hy, Y[i] + hy]
        });
      });
    }
    return done;
  }

  /* ---------- API for tests and scripting ---------- */
  api.renderer = function () { return TYPE; };
  /* points drawn, read back from the plot: SVG point nodes, or WebGL traces' processed lengths */
  api.pointCount = function () {
    var total = 0;
    if (!USE_GL) {
      gd.querySelectorAll(".scatterlayer .trace").forEach(function (group) {
        var cd = group.__data__, trace = cd && cd[0] && cd[0].trace;
        if (trace && (trace.index === PAPERS || trace.index === NOISE)) {
          total += group.querySelectorAll("path.point").length;
        }
      });
      return total;
    }
    [PAPERS, NOISE].forEach(function (k) {
      var full = gd._fullData[k];
      if (!full || full.visible !== true) return;
      var cd = gd.calcdata[k], t = cd && cd[0] && cd[0].t;
      var positions = t && t.positions;
      total += positions ? positions.length / 2 : full._length;
    });
    return total;
  };
  api.highlighted = function () {
    return (gd.data[MATCHES].customdata || []).map(function (i) { return DATA.ids[i]; });
  };
  api.search = search;
  api.query = function () { return searchQuery; };
  api.select = function (id) { return select(id, { pan: true }); };
  api.selected = function () {
    var cd = gd.data[SELECTED].customdata || [];
    return cd.length ? DATA.ids[cd[0]] : null;
  };
  api.closePanel = closePanel;
  api.labels = function () {
    return (gd.layout.annotations || []).map(function (a) {
      var div = document.createElement("div");
      div.innerHTML = String(a.text).replace(/<br>/g, " ");
      return div.textContent;
    });
  };
  api.labelLayer = function () { return labelLayer; };
  api.zoom = function (x0, x1, y0, y1) {
    return Plotly.relayout(gd, { "xaxis.range": [x0, x1], "yaxis.range": [y0, y1] });
  };
  api.resetZoom = function () {
    return Plotly.relayout(gd, { "xaxis.autorange": true, "yaxis.autorange": true });
  };
  /* page coordinates (CSS pixels) of a paper's point, for real mouse clicks */
  api.pixelOf = function (id) {
    var i = INDEX[String(id)], r = ranges(), box = gd.getBoundingClientRect();
    return { x: box.left + r.xa._offset + r.xa.l2p(X[i]), y: box.top + r.ya._offset + r.ya.l2p(Y[i]) };
  };

  Plotly.newPlot(gd, traces, layout, config).then(function () {
    gd.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      if (!point) return;
      var i = point.customdata;
      if (typeof i !== "number" && point.data && point.data.customdata) i = point.data.customdata[point.pointNumber];
      if (typeof i === "number") select(i);
    });
    gd.on("plotly_relayout", function (event) {
      if (updatingLabels || !event) return;
      var keys = Object.keys(event);
      if (keys.some(function (k) { return /^(xaxis|yaxis|autosize|width|height)/.test(k); })) refreshLabels();
    });
    return refreshLabels();
  }).then(function () {
    api.ready = true;
    document.body.setAttribute("data-ready", "1");
  }, function (error) {
    gd.innerHTML = '<p class="pa-error"></p>';
    gd.firstChild.textContent = "The map could not be drawn: " + error;
    throw error;
  });
})();
