/* paperatlas topic map: draws the inline binary blocks with regl-scatterplot (WebGL); fetches nothing. */
(function () {
  "use strict";

  var META = JSON.parse(document.getElementById("paperatlas-meta").textContent);
  var N = META.n;
  var mapEl = document.getElementById("pa-map");
  var canvas = document.getElementById("pa-canvas");
  var overlay = document.getElementById("pa-overlay");
  var labelsEl = document.getElementById("pa-labels");
  var tipEl = document.getElementById("pa-tip");
  var api = { ready: false, paperCount: N, timings: {} };
  window.paperatlas = api;
  var T0 = performance.now();

  function fail(message) {
    var p = document.createElement("p");
    p.className = "pa-error";
    p.textContent = message;
    mapEl.appendChild(p);
    api.error = message;
  }
  if (typeof window.createScatterplot !== "function") { fail("The map's renderer did not load."); return; }
  if (typeof DecompressionStream === "undefined") { fail("This browser cannot inflate the map's data (no DecompressionStream)."); return; }

  /* ---------- data: base64 -> gzip -> typed arrays and strings ---------- */
  function base64(id) {
    var el = document.getElementById("pa-block-" + id);
    if (!el) return null;
    var text = el.textContent.trim();
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function inflate(id) {
    var bytes = base64(id);
    if (!bytes) return Promise.resolve(null);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }
  var SEP = "\u001e";
  function texts(buffer) {
    return buffer ? new TextDecoder("utf-8").decode(buffer).split(SEP) : null;
  }

  var names = ["xy", "dates", "ids", "titles", "nb", "abstracts"];
  META.layers.forEach(function (_, k) { names.push("l" + k); });

  Promise.all(names.map(inflate)).then(function (buffers) {
    var got = {};
    names.forEach(function (name, k) { got[name] = buffers[k]; });
    api.timings.decode = performance.now() - T0;
    start(got);
  }).catch(function (error) {
    fail("The map's data could not be read: " + error);
    throw error;
  });

  function start(got) {
    var XY = new Uint16Array(got.xy);
    var DAYS = new Int32Array(got.dates);
    var IDS = texts(got.ids), TITLES = texts(got.titles), ABSTRACTS = texts(got.abstracts);
    var K = META.neighbours, NB = got.nb ? new Int32Array(got.nb) : new Int32Array(0);
    var LABELS = META.layers.map(function (_, k) {
      return META.labelTypes[k] === "int32" ? new Int32Array(got["l" + k]) : new Int16Array(got["l" + k]);
    });
    var FINE = LABELS[0];
    if (IDS.length !== N || TITLES.length !== N || XY.length !== 2 * N) { fail("The map's data are inconsistent."); return; }
    var INDEX = new Map();
    for (var i = 0; i < N; i++) INDEX.set(IDS[i], i);
    var TOPICS = META.layers.map(function (layer) {
      var byId = new Map();
      layer.topics.forEach(function (t) { byId.set(t.id, t); });
      return byId;
    });
    var SLOT = new Map();
    META.fineTopics.forEach(function (tid, k) { SLOT.set(tid, k + 1); });
    var NO_DATE = -2147483648;

    /* positions in normalised device coordinates, aspect kept, 5% margin */
    var ext = META.extent, span = Math.max(ext.xspan, ext.yspan) || 1, scale = 1.9 / span;
    var NX = new Float32Array(N), NY = new Float32Array(N), CAT = new Float32Array(N);
    for (i = 0; i < N; i++) {
      NX[i] = (XY[2 * i] / ext.steps * ext.xspan - ext.xspan / 2) * scale;
      NY[i] = (XY[2 * i + 1] / ext.steps * ext.yspan - ext.yspan / 2) * scale;
      CAT[i] = FINE[i] < 0 ? 0 : SLOT.get(FINE[i]) || 0;
    }
    function toNdcX(x) { return (x - ext.x0 - ext.xspan / 2) * scale; }
    function toNdcY(y) { return (y - ext.y0 - ext.yspan / 2) * scale; }

    /* a D3-like linear scale: regl-scatterplot keeps its domain on the view */
    function linear() {
      var d = [-1, 1], r = [0, 1];
      function s(v) { return r[0] + (v - d[0]) / (d[1] - d[0]) * (r[1] - r[0]); }
      s.domain = function (v) { if (!arguments.length) return d.slice(); d = [v[0], v[1]]; return s; };
      s.range = function (v) { if (!arguments.length) return r.slice(); r = [v[0], v[1]]; return s; };
      s.invert = function (p) { return d[0] + (p - r[0]) / (r[1] - r[0]) * (d[1] - d[0]); };
      s.copy = function () { return linear().domain(d).range(r); };
      return s;
    }
    var xScale = linear(), yScale = linear();

    var SIZE = N > 200000 ? 2 : N > 20000 ? 3 : N > 5000 ? 4 : N > 1500 ? 5 : 7;
    var sizes = META.colourSlots.map(function (_, k) { return k === 0 ? Math.max(1.5, SIZE - 2) : SIZE; });
    /* the renderer's own WebGL context, without multisampling: each frame is drawn there and
       copied onto the page's canvas, and a multisampled buffer makes that copy slow where
       WebGL runs in software; points are antialiased by their shader anyway */
    function makeRenderer() {
      var glCanvas = document.createElement("canvas");
      var gl = glCanvas.getContext("webgl", { antialias: false, preserveDrawingBuffer: true });
      if (!gl) throw new Error("WebGL is not available in this browser");
      var wanted = ["OES_texture_float", "OES_element_index_uint", "WEBGL_color_buffer_float", "EXT_float_blend"];
      var regl = window.createREGL({ gl: gl, extensions: wanted.filter(function (e) { return gl.getExtension(e); }) });
      var made = window.createScatterplotRenderer({ regl: regl, canvas: glCanvas });
      function size() { made.resize(Math.max(1, mapEl.clientWidth), Math.max(1, mapEl.clientHeight)); }
      size();
      window.addEventListener("resize", size);
      return made;
    }
    var sp = window.createScatterplot({
      renderer: makeRenderer(),
      canvas: canvas, width: "auto", height: "auto", xScale: xScale, yScale: yScale,
      backgroundColor: "#ffffff", pointColor: META.colourSlots, pointSize: sizes,
      colorBy: "valueA", sizeBy: "valueA", opacity: 0.85,
      pointColorHover: "#111111", pointColorActive: "#111111", pointSizeSelected: 4,
      opacityInactiveMax: 1, opacityInactiveScale: 1, lassoOnLongPress: false,
      deselectOnDblClick: false, deselectOnEscape: false, showReticle: false
    });
    api.renderer = function () { return "regl-scatterplot"; };

    /* ---------- what is drawn: filters, then a random sample capped at the budget ---------- */
    var ORDER = new Uint32Array(N);
    for (i = 0; i < N; i++) ORDER[i] = i;
    var seed = 12345;
    for (i = N - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      var j = seed % (i + 1), tmp = ORDER[i];
      ORDER[i] = ORDER[j];
      ORDER[j] = tmp;
    }
    var BUDGET = Math.max(N, 1);
    var MIN_BUDGET = 20000, FRAME_GOAL = 60, ALLOWANCE = 25;
    var filterState = { layer: -1, topic: null, from: null, to: null };
    function passes(i) {
      if (filterState.topic !== null && LABELS[filterState.layer][i] !== filterState.topic) return false;
      var d = DAYS[i];
      if (filterState.from !== null && (d === NO_DATE || d < filterState.from)) return false;
      if (filterState.to !== null && (d === NO_DATE || d > filterState.to)) return false;
      return true;
    }
    function filtering() { return filterState.topic !== null || filterState.from !== null || filterState.to !== null; }
    function viewBox(margin) {
      var xd = xScale.domain(), yd = yScale.domain();
      var w = (xd[1] - xd[0]) * margin, h = (yd[1] - yd[0]) * margin;
      return [Math.min(xd[0], xd[1]) - w, Math.max(xd[0], xd[1]) + w, Math.min(yd[0], yd[1]) - h, Math.max(yd[0], yd[1]) + h];
    }
    /* indices to draw, or null for all: those passing the filters, in (and around) view, at most BUDGET */
    function drawSet() {
      if (!filtering() && N <= BUDGET) return null;
      var box = viewBox(0.5), out = [];
      for (var k = 0; k < N && out.length < BUDGET; k++) {
        var p = ORDER[k];
        if (NX[p] < box[0] || NX[p] > box[1] || NY[p] < box[2] || NY[p] > box[3]) continue;
        if (passes(p)) out.push(p);
      }
      return out.sort(function (a, b) { return a - b; });
    }
    var drawnCount = N, lastSetKey = "";
    function refilter() {
      var set = drawSet();
      var key = set === null ? "all" : set.length + ":" + (set[0] || 0) + ":" + (set[set.length - 1] || 0) + ":" + (set[set.length >> 1] || 0);
      if (key === lastSetKey) return Promise.resolve();
      lastSetKey = key;
      drawnCount = set === null ? N : set.length;
      if (set === null) return Promise.resolve(sp.unfilter({ preventEvent: true }));
      return Promise.resolve(sp.filter(set, { preventEvent: true }));
    }
    var refilterTimer = null;
    function scheduleRefilter() {
      if (!filtering() && N <= BUDGET) return;
      clearTimeout(refilterTimer);
      refilterTimer = setTimeout(refilter, 120);
    }

    /* ---------- screen positions ---------- */
    function screenX(nx) { return xScale(nx); }
    function screenY(ny) { return yScale(ny); }

    /* ---------- labels: the finest layer with at most maxLabels centres in view, no overlap ---------- */
    var measure = document.createElement("canvas").getContext("2d");
    var FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif";
    function wrapWords(text, width) {
      var words = String(text).split(/\s+/), lines = [], line = "";
      words.forEach(function (w) {
        if (line && (line + " " + w).length > width) { lines.push(line); line = w; }
        else line = line ? line + " " + w : w;
      });
      if (line) lines.push(line);
      return lines;
    }
    var labelLayer = 0, placed = [];
    function topicVisible(t, layer) {
      return filterState.topic === null || filterState.layer !== layer || t.id === filterState.topic;
    }
    var MIN_LABELS = 3;
    /* zoomed out: the coarsest layer (of 2 topics or more) with at least MIN_LABELS of its centres
       in view, or all of them, and at most maxLabels; zoomed in: the finest layer with at most
       maxLabels centres in view; filtered to one topic: that topic's layer */
    function chooseLayer(inView) {
      if (filterState.topic !== null) return filterState.layer;
      var counts = META.layers.map(function (layer) { return layer.topics.filter(inView).length; });
      for (var k = META.layers.length - 1; k >= 0; k--) {
        var n = META.layers[k].topics.length;
        if (n >= 2 && counts[k] >= Math.min(MIN_LABELS, n) && counts[k] <= META.maxLabels) return k;
      }
      for (k = 0; k < META.layers.length; k++) if (counts[k] <= META.maxLabels) return k;
      return META.layers.length - 1;
    }
    /* boxes (map pixels) that labels keep clear of: the toolbar, the legend and the open panel */
    function obstacles() {
      var m = mapEl.getBoundingClientRect(), out = [];
      ["pa-header", "pa-legend", "pa-panel"].forEach(function (id) {
        var el = document.getElementById(id);
        if (!el || el.hidden) return;
        var r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) out.push([r.left - m.left - 3, r.top - m.top - 3, r.right - m.left + 3, r.bottom - m.top + 3]);
      });
      return out;
    }
    function overlaps(box, boxes) {
      return boxes.some(function (b) { return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; });
    }
    function layoutLabels() {
      var w = mapEl.clientWidth, h = mapEl.clientHeight;
      var inView = function (t) {
        var sx = screenX(toNdcX(t.x)), sy = screenY(toNdcY(t.y));
        return sx >= 0 && sx <= w && sy >= 0 && sy <= h;
      };
      var layer = chooseLayer(inView);
      var visible = META.layers[layer].topics.filter(inView);
      var size = layer === 0 ? 12 : 14, boxes = [], blocked = obstacles();
      measure.font = (layer === 0 ? "" : "600 ") + size + "px " + FONT;
      placed = [];
      visible.filter(function (t) { return topicVisible(t, layer); }).forEach(function (t) {
        if (placed.length >= META.maxLabels) return;
        var lines = wrapWords(t.name, 24);
        var tw = Math.max.apply(null, lines.map(function (l) { return measure.measureText(l).width; })) + 10;
        var th = lines.length * size * 1.25 + 6;
        var cx = screenX(toNdcX(t.x)), cy = screenY(toNdcY(t.y));
        /* on the centre; else just above, below, right or left of it, or of what is in the way
           (the legend, another label), whichever is nearest and at most a label's size away */
        var spots = [[cx, cy], [cx, cy - th - 2], [cx, cy + th + 2], [cx + tw / 2 + 6, cy], [cx - tw / 2 - 6, cy]];
        var reach = Math.max(tw, 3 * th);
        blocked.concat(boxes).forEach(function (b) {
          spots.push([cx, b[1] - th / 2 - 1], [cx, b[3] + th / 2 + 1], [b[0] - tw / 2 - 1, cy], [b[2] + tw / 2 + 1, cy]);
        });
        spots = spots.filter(function (p) { return Math.abs(p[0] - cx) + Math.abs(p[1] - cy) <= reach; });
        spots.sort(function (a, b) { return Math.abs(a[0] - cx) + Math.abs(a[1] - cy) - Math.abs(b[0] - cx) - Math.abs(b[1] - cy); });
        for (var k = 0; k < spots.length; k++) {
          var box = [spots[k][0] - tw / 2, spots[k][1] - th / 2, spots[k][0] + tw / 2, spots[k][1] + th / 2];
          if (box[0] < 0 || box[1] < 0 || box[2] > w || box[3] > h) continue;
          if (overlaps(box, boxes) || overlaps(box, blocked)) continue;
          boxes.push(box);
          placed.push({ topic: t, lines: lines, box: box });
          return;
        }
      });
      labelLayer = layer;
      labelsEl.textContent = "";
      placed.forEach(function (p) {
        var div = document.createElement("div");
        div.className = "pa-label" + (layer === 0 ? "" : " pa-theme");
        div.style.left = p.box[0] + "px";
        div.style.top = p.box[1] + "px";
        div.style.width = (p.box[2] - p.box[0]) + "px";
        div.style.height = (p.box[3] - p.box[1]) + "px";
        if (layer === 0 && p.topic.colour) div.style.borderColor = p.topic.colour;
        p.lines.forEach(function (line, k) {
          if (k) div.appendChild(document.createElement("br"));
          div.appendChild(document.createTextNode(line));
        });
        labelsEl.appendChild(div);
      });
    }

    /* ---------- overlay: search matches and the selected paper ---------- */
    var matches = [], selectedIndex = -1;
    var MAX_MARKED = 50000;
    function drawOverlay() {
      var dpr = window.devicePixelRatio || 1, w = mapEl.clientWidth, h = mapEl.clientHeight;
      if (overlay.width !== Math.round(w * dpr) || overlay.height !== Math.round(h * dpr)) {
        overlay.width = Math.round(w * dpr);
        overlay.height = Math.round(h * dpr);
      }
      var ctx = overlay.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      var r = SIZE / 2 + 2.5;
      ctx.fillStyle = "#ffd400";
      ctx.strokeStyle = "#111111";
      ctx.lineWidth = 1.2;
      var marked = 0;
      for (var k = 0; k < matches.length && marked < MAX_MARKED; k++) {
        var i = matches[k], sx = screenX(NX[i]), sy = screenY(NY[i]);
        if (sx < -r || sy < -r || sx > w + r || sy > h + r) continue;
        ctx.beginPath();
        ctx.arc(sx, sy, r, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
        marked++;
      }
      if (selectedIndex >= 0) {
        ctx.lineWidth = 3;
        ctx.beginPath();
        ctx.arc(screenX(NX[selectedIndex]), screenY(NY[selectedIndex]), r + 6, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    var frameRequested = false;
    function onView() {
      if (frameRequested) return;
      frameRequested = true;
      requestAnimationFrame(function () {
        frameRequested = false;
        layoutLabels();
        drawOverlay();
      });
      scheduleRefilter();
      hideTip();
    }

    /* ---------- text ---------- */
    function dateText(i) {
      var d = DAYS[i];
      return d === NO_DATE ? "" : new Date(d * 86400000).toISOString().slice(0, 10);
    }
    function topicOf(i, layer) {
      var tid = LABELS[layer][i];
      return tid < 0 ? null : TOPICS[layer].get(tid) || null;
    }
    function topicLabel(i) {
      var t = topicOf(i, 0);
      return t ? t.name : "no topic (noise)";
    }
    function colourOf(i) { return META.colourSlots[CAT[i]]; }
    /* whitespace collapsed, cut at a word boundary to at most width characters, "…" when cut */
    var SNIPPET = 300;
    function shorten(text, width) {
      var t = String(text || "").split(/\s+/).filter(Boolean).join(" ");
      if (t.length <= width) return t;
      var head = t.slice(0, width), space = head.lastIndexOf(" ");
      head = space > 0 ? head.slice(0, space) : head.slice(0, width - 1);
      return head.replace(/[ ,;:.\-\u2013\u2014(]+$/, "") + "\u2026";
    }
    /* a paper's topic path, coarse to fine, a name equal to the one above it shown once */
    function topicPath(i) {
      var path = [];
      for (var k = META.layers.length - 1; k >= 0; k--) {
        var t = topicOf(i, k);
        if (t && (!path.length || path[path.length - 1].trim().toLowerCase() !== t.name.trim().toLowerCase())) path.push(t.name);
      }
      return path;
    }

    /* ---------- hover ---------- */
    function hideTip() { tipEl.hidden = true; }
    function showTip(i) {
      tipEl.textContent = "";
      var b = document.createElement("b");
      b.textContent = TITLES[i];
      tipEl.appendChild(b);
      [topicLabel(i), dateText(i)].filter(Boolean).forEach(function (line) {
        tipEl.appendChild(document.createElement("br"));
        tipEl.appendChild(document.createTextNode(line));
      });
      var sx = screenX(NX[i]), sy = screenY(NY[i]), w = mapEl.clientWidth;
      tipEl.hidden = false;
      tipEl.style.left = Math.min(sx + 12, Math.max(0, w - tipEl.offsetWidth - 4)) + "px";
      tipEl.style.top = Math.max(0, sy - tipEl.offsetHeight - 10) + "px";
      api.hovered = IDS[i];
    }
    sp.subscribe("pointOver", function (i) { showTip(i); });
    sp.subscribe("pointOut", function () { hideTip(); api.hovered = null; });

    /* ---------- search over titles (and abstracts when the file has them) ---------- */
    var input = document.getElementById("pa-search");
    var countEl = document.getElementById("pa-count");
    var LOWER = null, LOWER_ABS = null, searchQuery = "";
    function search(text) {
      var q = String(text == null ? "" : text).trim().toLowerCase();
      searchQuery = q;
      if (input.value.trim().toLowerCase() !== q) input.value = String(text == null ? "" : text);
      var hits = [];
      if (q) {
        if (!LOWER) LOWER = TITLES.map(function (t) { return t.toLowerCase(); });
        if (ABSTRACTS && !LOWER_ABS) LOWER_ABS = ABSTRACTS.map(function (t) { return t.toLowerCase(); });
        for (var i = 0; i < N; i++) {
          if ((LOWER[i].indexOf(q) >= 0 || (LOWER_ABS && LOWER_ABS[i].indexOf(q) >= 0)) && passes(i)) hits.push(i);
        }
      }
      matches = hits;
      countEl.textContent = q ? hits.length.toLocaleString() + (hits.length === 1 ? " match" : " matches") : "";
      sp.set({ opacity: q && hits.length ? 0.25 : 0.85 });
      drawOverlay();
      return Promise.resolve(hits.length);
    }
    var searchTimer = null;
    input.addEventListener("input", function () {
      clearTimeout(searchTimer);
      var value = input.value;
      searchTimer = setTimeout(function () { search(value); }, N > 5000 ? 200 : 60);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { input.value = ""; search(""); }
      if (event.key === "Enter" && META.served && input.value.trim()) {
        clearTimeout(searchTimer);
        semanticSearch(input.value);
      }
    });
    /* served: the server's model and index rank the whole atlas against free text */
    var SEMANTIC_K = 100;
    function semanticSearch(text) {
      var q = String(text).trim();
      countEl.textContent = "searching…";
      return getJSON("api/similar?k=" + SEMANTIC_K + "&q=" + encodeURIComponent(q)).then(function (body) {
        searchQuery = q.toLowerCase();
        matches = body.results.filter(function (r) { return INDEX.has(r.id); }).map(function (r) { return INDEX.get(r.id); });
        countEl.textContent = matches.length + " most similar (semantic)";
        sp.set({ opacity: matches.length ? 0.25 : 0.85 });
        drawOverlay();
        return matches.length;
      }, function (error) {
        countEl.textContent = "search failed: " + error.message;
        throw error;
      });
    }
    if (META.served) input.placeholder = (ABSTRACTS ? "Search titles and abstracts" : "Search titles") + " · Enter: semantic search";

    /* ---------- side panel ---------- */
    var panel = document.getElementById("pa-panel");
    function setText(id, text) { document.getElementById(id).textContent = text; }
    function showPanel(i) {
      setText("pa-paper-title", TITLES[i]);
      setText("pa-paper-meta", [dateText(i) || "no date", "id " + IDS[i]].join(" · "));
      var topicEl = document.getElementById("pa-paper-topic");
      topicEl.textContent = "";
      var swatch = document.createElement("span");
      swatch.className = "pa-swatch";
      swatch.style.background = colourOf(i);
      topicEl.appendChild(swatch);
      var path = topicPath(i);
      topicEl.appendChild(document.createTextNode(path.length ? path.join(" › ") : "no topic (noise)"));
      var fine = topicOf(i, 0);
      setText("pa-paper-terms", fine && fine.keyterms.length ? "key terms: " + fine.keyterms.join(", ") : "");
      var abs = document.getElementById("pa-paper-abstract");
      abs.classList.toggle("pa-note", !ABSTRACTS);
      moreEl.hidden = true;
      if (ABSTRACTS) showAbstract(ABSTRACTS[i]);
      else if (META.served) abs.textContent = "loading the abstract…";
      else abs.textContent = "Abstracts are not in this file (" + (META.abstracts.raw_mb || 0) +
        " MB of text, over the " + META.abstracts.budget_mb + " MB compressed budget). Run `paperatlas serve ATLAS` to read them.";
      var rows = [];
      for (var k = 0; k < K; k++) if (NB[i * K + k] >= 0) rows.push({ row: NB[i * K + k] });
      listNeighbours(rows);
      panel.hidden = false;
      panel.scrollTop = 0;
      layoutLabels();
      if (META.served) return askServer(i, abs);
      return Promise.resolve();
    }
    /* the abstract's first SNIPPET characters, and a button for the rest (null: none) */
    var moreEl = document.getElementById("pa-abstract-more"), fullAbstract = "";
    function showAbstract(text) {
      fullAbstract = text === null || text === undefined ? "" : String(text);
      var short = shorten(fullAbstract, SNIPPET);
      document.getElementById("pa-paper-abstract").textContent = short || "(no abstract)";
      moreEl.hidden = short === shorten(fullAbstract, fullAbstract.length + 1);
      moreEl.textContent = "show the whole abstract";
      moreEl.dataset.open = "";
    }
    moreEl.addEventListener("click", function () {
      var open = !moreEl.dataset.open;
      document.getElementById("pa-paper-abstract").textContent = open ? fullAbstract : shorten(fullAbstract, SNIPPET);
      moreEl.textContent = open ? "show less" : "show the whole abstract";
      moreEl.dataset.open = open ? "1" : "";
    });
    /* the panel's list: rows of this map, with "why" terms where the server gave them */
    function listNeighbours(rows) {
      var list = document.getElementById("pa-neighbours");
      list.textContent = "";
      rows.forEach(function (entry) {
        var j = entry.row;
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "pa-nb";
        button.dataset.id = IDS[j];
        button.textContent = TITLES[j];
        if (ABSTRACTS && ABSTRACTS[j]) button.title = shorten(ABSTRACTS[j], SNIPPET);
        button.addEventListener("click", select.bind(null, IDS[j], { pan: true }));
        var meta = document.createElement("span");
        meta.className = "pa-nb-meta";
        var parts = [topicLabel(j), dateText(j)];
        if (entry.score !== undefined) parts.push("score " + entry.score.toFixed(2));
        if (entry.why && entry.why.length) parts.push("why: " + entry.why.join(", "));
        meta.textContent = parts.filter(Boolean).join(" · ");
        item.appendChild(button);
        item.appendChild(meta);
        list.appendChild(item);
      });
      if (!rows.length) {
        var none = document.createElement("li");
        none.textContent = "none recorded";
        list.appendChild(none);
      }
    }
    function getJSON(path) {
      return fetch(path, { headers: { Accept: "application/json" } }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body && body.error ? body.error : "server answered " + response.status);
          return body;
        });
      });
    }
    var asked = 0;
    function askServer(i, abs) {
      var ticket = ++asked, id = IDS[i];
      /* the page's own abstracts, where it carries them; else the server's */
      var paper = ABSTRACTS ? Promise.resolve() : getJSON("api/paper/" + encodeURIComponent(id)).then(function (body) {
        if (ticket !== asked) return;
        abs.classList.remove("pa-note");
        showAbstract(body.abstract);
      }, function (error) {
        if (ticket === asked) abs.textContent = "could not load the abstract: " + error.message;
      });
      var similar = getJSON("api/similar?k=10&id=" + encodeURIComponent(id)).then(function (body) {
        if (ticket !== asked) return;
        listNeighbours(body.results.filter(function (r) { return INDEX.has(r.id); }).map(function (r) {
          return { row: INDEX.get(r.id), score: r.score, why: r.why };
        }));
        document.getElementById("pa-neighbours").dataset.source = "server";
      }, function () { /* keep the precomputed neighbours */ });
      return Promise.all([paper, similar]);
    }
    function closePanel() {
      selectedIndex = -1;
      panel.hidden = true;
      layoutLabels();
      drawOverlay();
      return Promise.resolve();
    }
    document.getElementById("pa-close").addEventListener("click", closePanel);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !panel.hidden && document.activeElement !== input) closePanel();
    });
    function select(id, options) {
      var i = typeof id === "number" ? id : INDEX.get(String(id));
      if (i === undefined || i < 0 || i >= N) return Promise.reject(new Error("no paper " + id));
      selectedIndex = i;
      var shown = showPanel(i);
      if (options && options.pan) {
        var box = viewBox(0);
        if (NX[i] < box[0] || NX[i] > box[1] || NY[i] < box[2] || NY[i] > box[3]) {
          var cam = sp.get("camera");
          return Promise.all([shown, Promise.resolve(sp.zoomToLocation([NX[i], NY[i]], cam.distance[0])).then(drawOverlay)]);
        }
      }
      drawOverlay();
      return shown;
    }
    sp.subscribe("select", function (event) {
      var points = event && event.points;
      if (points && points.length) select(points[0]);
      sp.deselect({ preventEvent: true });
    });

    /* ---------- filters and legend ---------- */
    var topicSelect = document.getElementById("pa-topic");
    var legend = document.getElementById("pa-legend-list");
    META.layers.slice().reverse().forEach(function (layer) {
      var group = document.createElement("optgroup");
      group.label = layer.layer === 0 ? "Topics" : "Themes (layer " + layer.layer + ")";
      layer.topics.forEach(function (t) {
        var option = document.createElement("option");
        option.value = layer.layer + ":" + t.id;
        option.textContent = t.name + " (" + t.size.toLocaleString() + ")";
        group.appendChild(option);
      });
      topicSelect.appendChild(group);
    });
    var fromEl = document.getElementById("pa-from"), toEl = document.getElementById("pa-to");
    function dayOf(value) {
      if (!value) return null;
      var t = Date.parse(value + "T00:00:00Z");
      return isNaN(t) ? null : Math.floor(t / 86400000);
    }
    function setFilter(options) {
      options = options || {};
      var topic = options.topic === undefined || options.topic === null || options.topic === "" ? null : options.topic;
      var layer = options.layer === undefined ? 0 : options.layer;
      if (topic !== null && !TOPICS[layer].has(topic)) return Promise.reject(new Error("no topic " + topic + " in layer " + layer));
      filterState = { layer: topic === null ? -1 : layer, topic: topic, from: dayOf(options.from), to: dayOf(options.to) };
      topicSelect.value = topic === null ? "" : layer + ":" + topic;
      legend.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(layer === 0 && topic !== null && Number(b.dataset.topic) === topic));
      });
      fromEl.value = options.from || "";
      toEl.value = options.to || "";
      return refilter().then(function () {
        if (searchQuery) return search(searchQuery);
      }).then(function () { layoutLabels(); drawOverlay(); });
    }
    function filterFromControls() {
      var parts = topicSelect.value ? topicSelect.value.split(":") : null;
      setFilter({
        layer: parts ? Number(parts[0]) : 0, topic: parts ? Number(parts[1]) : null,
        from: fromEl.value || null, to: toEl.value || null
      });
    }
    [topicSelect, fromEl, toEl].forEach(function (el) { el.addEventListener("change", filterFromControls); });
    document.getElementById("pa-legend").addEventListener("toggle", function () { layoutLabels(); });
    var LEGEND_MAX = 40;
    META.layers[0].topics.slice(0, LEGEND_MAX).forEach(function (t) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      var swatch = document.createElement("span");
      swatch.className = "pa-swatch";
      swatch.style.background = t.colour;
      button.appendChild(swatch);
      button.appendChild(document.createTextNode(t.name));
      button.title = t.size.toLocaleString() + (t.size === 1 ? " paper" : " papers") + " · click to show only this topic, again to show all";
      button.dataset.topic = t.id;
      button.addEventListener("click", function () {
        var on = filterState.layer === 0 && filterState.topic === t.id;
        setFilter({ layer: 0, topic: on ? null : t.id, from: fromEl.value || null, to: toEl.value || null });
      });
      item.appendChild(button);
      legend.appendChild(item);
    });
    var more = META.layers[0].topics.length - LEGEND_MAX;
    if (more > 0) {
      var rest = document.createElement("li");
      rest.className = "pa-note";
      rest.textContent = more.toLocaleString() + " more topics in the filter list";
      legend.appendChild(rest);
    }

    /* fit the point budget to this machine: time frames with every point and with a few, and
       draw at most what keeps a frame within FRAME_GOAL ms (at least ALLOWANCE ms over the
       fixed cost of a frame); a real GPU draws everything */
    function median3(kind) {
      var times = [];
      return [0, 1, 2].reduce(function (chain) {
        return chain.then(function () { return api.frame(kind, 1.0).then(function (ms) { times.push(ms); }); });
      }, Promise.resolve()).then(function () { return times.sort(function (a, b) { return a - b; })[1]; });
    }
    function calibrate() {
      var full, few, fewCount = Math.min(1000, N);
      return median3("zoom").then(function (ms) {
        full = ms;
        api.timings.fullFrame = ms;
        if (ms <= FRAME_GOAL || N <= MIN_BUDGET) return null;
        var sample = Array.prototype.slice.call(ORDER.subarray(0, fewCount)).sort(function (a, b) { return a - b; });
        return Promise.resolve(sp.filter(sample, { preventEvent: true })).then(function () { return median3("zoom"); });
      }).then(function (ms) {
        if (ms === null) return;
        few = ms;
        api.timings.fewFrame = ms;
        var perPoint = Math.max(full - few, 0.001) / Math.max(drawnCount - fewCount, 1);
        var allowance = Math.max(FRAME_GOAL - few, ALLOWANCE);
        BUDGET = Math.min(N, Math.max(MIN_BUDGET, Math.floor(allowance / perPoint)));
        lastSetKey = "";
        return refilter();
      });
    }

    /* ---------- API for tests, benchmarks and scripting ---------- */
    api.pointCount = function () { return sp.get("points").length; };
    api.drawnCount = function () { return drawnCount; };
    api.budget = function () { return BUDGET; };
    /* draw at most n points (n >= papers: all of them, as on a real GPU) */
    api.setBudget = function (n) {
      BUDGET = Math.max(1, Math.floor(n));
      lastSetKey = "";
      return refilter();
    };
    api.highlighted = function () { return matches.map(function (i) { return IDS[i]; }); };
    api.search = search;
    api.query = function () { return searchQuery; };
    api.semanticSearch = semanticSearch;
    api.select = function (id) { return select(id, { pan: true }); };
    api.selected = function () { return selectedIndex < 0 ? null : IDS[selectedIndex]; };
    api.closePanel = closePanel;
    api.labels = function () { return placed.map(function (p) { return p.lines.join(" "); }); };
    api.labelBoxes = function () { return placed.map(function (p) { return p.box.slice(); }); };
    api.labelLayer = function () { return labelLayer; };
    api.setFilter = setFilter;
    api.visibleIds = function () {
      var out = [];
      for (var i = 0; i < N; i++) if (passes(i)) out.push(IDS[i]);
      return out;
    };
    function afterDraw(action) {
      return new Promise(function (resolve) {
        var handler = sp.subscribe("draw", function () {
          sp.unsubscribe("draw", handler);
          requestAnimationFrame(function () { resolve(); });
        });
        action();
      });
    }
    /* zoom to a box in the map's own coordinates */
    api.zoom = function (x0, x1, y0, y1) {
      var a = toNdcX(Math.min(x0, x1)), b = toNdcX(Math.max(x0, x1));
      var c = toNdcY(Math.min(y0, y1)), d = toNdcY(Math.max(y0, y1));
      return afterDraw(function () { sp.zoomToArea({ x: a, y: c, width: b - a, height: d - c }); })
        .then(refilter).then(function () { layoutLabels(); drawOverlay(); });
    };
    api.resetZoom = function () {
      return afterDraw(function () { sp.zoomToOrigin(); }).then(refilter).then(function () { layoutLabels(); drawOverlay(); });
    };
    /* milliseconds from a camera change to the next painted frame (benchmarks) */
    api.frame = function (kind, amount) {
      var cam = sp.get("camera"), t = performance.now();
      return afterDraw(function () {
        if (kind === "pan") cam.pan([amount || 20, 0]);
        else cam.scale(amount || 1.25, [mapEl.clientWidth / 2, mapEl.clientHeight / 2]);
        sp.redraw();
      }).then(function () { return performance.now() - t; });
    };
    /* page coordinates (CSS pixels) of a paper's point, for real mouse events */
    api.pixelOf = function (id) {
      var i = INDEX.get(String(id)), box = mapEl.getBoundingClientRect();
      return { x: box.left + screenX(NX[i]), y: box.top + screenY(NY[i]) };
    };

    sp.subscribe("view", onView);
    window.addEventListener("resize", onView);
    var first = drawSet();
    var points = { x: NX, y: NY, valueA: CAT };
    sp.draw(points, { zDataType: "categorical", filter: first === null ? undefined : first }).then(function () {
      drawnCount = first === null ? N : first.length;
      layoutLabels();
      drawOverlay();
      api.timings.firstDraw = performance.now() - T0;
      api.timings.firstDrawAt = performance.now();
      return calibrate();
    }).then(function () {
      api.timings.ready = performance.now() - T0;
      api.timings.readyAt = performance.now();
      api.ready = true;
      document.body.setAttribute("data-ready", "1");
    }, function (error) {
      fail("The map could not be drawn: " + error);
      throw error;
    });
  }
})();
