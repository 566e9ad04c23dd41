// The explainer page's behaviour. Everything it shows comes from the JSON block #explainer-data, which
// eac3_tf/explain/page.py writes (see `build_html` there for its fields).
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("explainer-data").textContent);
  document.title = D.title;
  document.getElementById("page-title").textContent = D.title;
  document.getElementById("command").textContent = D.command;
  document.getElementById("grid").style.setProperty("--columns", String(D.agents.length));
  const T = D.frames;
  const NS = "http://www.w3.org/2000/svg";
  const state = { t: 0, overlay: "chosen", alpha: D.alpha, playing: false, timer: null, speed: 1 };

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmt = (x, d) => Number(x).toFixed(d === undefined ? 2 : d);

  // tf.image.resize's bilinear weights (half-pixel centres, no antialias), the resize gradcam.explain does:
  // output index i samples the input at (i + 0.5) * n_in / n_out - 0.5, between two clamped neighbours.
  function weights(nIn, nOut) {
    const lo = new Int32Array(nOut), hi = new Int32Array(nOut), w = new Float64Array(nOut);
    const scale = nIn / nOut;
    for (let i = 0; i < nOut; i++) {
      const x = (i + 0.5) * scale - 0.5, f = Math.floor(x);
      lo[i] = Math.max(f, 0); hi[i] = Math.min(Math.ceil(x), nIn - 1); w[i] = x - f;
    }
    return { lo, hi, w };
  }

  class Agent {
    constructor(a, index) {
      this.a = a; this.index = index;
      this.A = a.names.length;
      [this.h, this.w] = a.map_shape; [this.H, this.W] = a.input_shape; [this.VH, this.VW] = a.view_shape;
      this.raw = { action: bytes(a.maps.action), value: bytes(a.maps.value), contrast: bytes(a.maps.contrast) };
      this.wy = weights(this.h, this.H); this.wx = weights(this.w, this.W);
      this.pick = 0;  // the action of the "action..." overlay
      this.build();
    }
    // Which stored map the overlay shows at frame t: [array, offset, words for the caption].
    source(kind, t) {
      const a = this.a, hw = this.h * this.w, n = a.names;
      if (kind === "chosen" || kind === "action") {
        const act = kind === "chosen" ? a.actions[t] : this.pick;
        const taken = act === a.actions[t] ? ", the action taken" : "";
        return [this.raw.action, (act * T + t) * hw,
                D.method + " of " + n[act] + " (p = " + fmt(a.probs[t][act]) + taken + ")"];
      }
      if (kind === "value") return [this.raw.value, t * hw, D.method + " of the value V(s) = " + fmt(a.values[t], 3)];
      return [this.raw.contrast, t * hw, D.method + " of " + n[a.actions[t]] + " \u2212 " + n[a.runner_up[t]] +
              " (logit of the chosen action minus the runner-up's)"];
    }
    // The map over the play area, row-major Float64Array(VH * VW) in [0, 1]: bilinear to the model input,
    // then nearest-neighbour enlargement (overlay.upsample_map).
    map(kind, t) {
      const [src, off] = this.source(kind, t);
      const { h, w, H, W, VH, VW, wy, wx } = this;
      const small = new Float64Array(H * W);
      for (let y = 0; y < H; y++) {
        const r0 = off + wy.lo[y] * w, r1 = off + wy.hi[y] * w, fy = wy.w[y];
        for (let x = 0; x < W; x++) {
          const x0 = wx.lo[x], x1 = wx.hi[x], fx = wx.w[x];
          const tl = src[r0 + x0] / 255, tr = src[r0 + x1] / 255, bl = src[r1 + x0] / 255, br = src[r1 + x1] / 255;
          const top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx;
          small[y * W + x] = Math.min(1, Math.max(0, top + (bottom - top) * fy));
        }
      }
      const out = new Float64Array(VH * VW);
      for (let y = 0; y < VH; y++) {
        const sy = Math.floor(y * H / VH) * W;
        for (let x = 0; x < VW; x++) out[y * VW + x] = small[sy + Math.floor(x * W / VW)];
      }
      return out;
    }
    build() {
      const a = this.a, i = this.index;
      const card = el("article", { class: "agent", id: "agent-" + i });
      const head = el("header");
      head.append(el("h2", {}, a.title), el("p", { class: "sub" }, a.subtitle));
      const left = el("div"), right = el("div");
      const view = el("div", { class: "view", id: "view-" + i });
      this.img = el("img", { class: "frame", id: "frame-" + i, alt: a.title + " frame", width: a.view_shape[1],
                             height: a.view_shape[0] });
      this.canvas = el("canvas", { class: "heat", id: "heat-" + i, width: a.view_shape[1], height: a.view_shape[0] });
      view.append(this.img, this.canvas);
      this.caption = el("p", { class: "caption", id: "caption-" + i });
      left.append(view, this.caption);

      const pick = el("label", { class: "pick" }, "action map: ");
      this.select = el("select", { class: "action-select", id: "action-" + i });
      a.names.forEach((n, k) => this.select.append(el("option", { value: k }, n)));
      this.select.addEventListener("change", () => { this.pick = +this.select.value; setOverlay("action"); });
      pick.append(this.select);
      this.bars = el("div", { class: "bars", id: "bars-" + i });
      this.barRows = a.names.map((n, k) => {
        const name = el("span", { class: "name", title: "show this action's map" }, n);
        name.addEventListener("click", () => { this.pick = k; this.select.value = k; setOverlay("action"); });
        const track = el("span", { class: "track" }), fill = el("span", { class: "fill" });
        fill.style.background = D.palette[k % D.palette.length];
        track.append(fill);
        const num = el("span", { class: "num" });
        this.bars.append(name, track, num);
        return { name, fill, num };
      });
      right.append(el("div", { class: "pick" }, "action probabilities (bold: the action taken)"), this.bars, pick);
      right.append(this.chart());
      if (a.faithfulness) right.append(this.faith(a.faithfulness));
      card.append(head, left, right);
      document.getElementById("grid").append(card);
    }
    chart() {
      const a = this.a, W = 330, L = 36, R = 6, PT = 6, PH = 92, GAP = 16, VH = 52, B = 16;
      const H = PT + PH + GAP + VH + B;
      const g = sv("svg", { class: "chart", id: "chart-" + this.index, width: W, height: H,
                            viewBox: "0 0 " + W + " " + H, role: "img",
                            "aria-label": "action probabilities and value over time" });
      const x = t => L + (T > 1 ? t / (T - 1) : 0.5) * (W - L - R);
      const vals = a.values, vmin = Math.min(...vals), vmax = Math.max(...vals);
      const span = vmax - vmin > 1e-9 ? vmax - vmin : 1, v0 = vmax - vmin > 1e-9 ? vmin : vmin - 0.5;
      const yp = p => PT + (1 - p) * PH, yv = v => PT + PH + GAP + (1 - (v - v0) / span) * VH;
      this.x = x; this.yp = yp; this.yv = yv;
      const frame = (y0, h) => g.append(sv("rect", { x: L, y: y0, width: W - L - R, height: h, fill: "#fafbfc",
                                                      stroke: "#d8dde3" }));
      frame(PT, PH); frame(PT + PH + GAP, VH);
      g.append(sv("text", { x: L - 4, y: PT + 8, "text-anchor": "end" }, "1"),
               sv("text", { x: L - 4, y: PT + PH, "text-anchor": "end" }, "0"),
               sv("text", { x: L - 4, y: PT + PH / 2 + 3, "text-anchor": "end" }, "p"),
               sv("text", { x: L - 4, y: PT + PH + GAP + 8, "text-anchor": "end" }, fmt(v0 + span, 2)),
               sv("text", { x: L - 4, y: PT + PH + GAP + VH, "text-anchor": "end" }, fmt(v0, 2)),
               sv("text", { x: L - 4, y: PT + PH + GAP + VH / 2 + 3, "text-anchor": "end" }, "V"),
               sv("text", { x: L, y: H - 3 }, "step " + a.steps[0]),
               sv("text", { x: W - R, y: H - 3, "text-anchor": "end" }, "step " + a.steps[T - 1]));
      a.names.forEach((n, k) => {
        const pts = a.probs.map((p, t) => fmt(x(t), 1) + "," + fmt(yp(p[k]), 1)).join(" ");
        g.append(sv("polyline", { points: pts, fill: "none", stroke: D.palette[k % D.palette.length],
                                  "stroke-width": 1.2, class: "prob-line" }));
      });
      const vpts = vals.map((v, t) => fmt(x(t), 1) + "," + fmt(yv(v), 1)).join(" ");
      g.append(sv("polyline", { points: vpts, fill: "none", stroke: "#1d232a", "stroke-width": 1.2 }));
      this.cursor = sv("line", { class: "cursor", y1: PT, y2: PT + PH + GAP + VH, stroke: "#b42318",
                                 "stroke-width": 1, "stroke-dasharray": "3 2" });
      this.point = sv("circle", { class: "point", id: "point-" + this.index, r: 4, stroke: "#fff",
                                  "stroke-width": 1.5 });
      this.vpoint = sv("circle", { class: "vpoint", id: "vpoint-" + this.index, r: 3.5, fill: "#b42318",
                                   stroke: "#fff", "stroke-width": 1.5 });
      g.append(this.cursor, this.point, this.vpoint);
      const seek = ev => {
        const box = g.getBoundingClientRect(), px = (ev.clientX - box.left) * W / box.width;
        show(Math.round(Math.min(1, Math.max(0, (px - L) / (W - L - R))) * (T - 1)));
      };
      g.addEventListener("click", seek);
      g.addEventListener("mousemove", ev => { if (ev.buttons & 1) seek(ev); });
      return g;
    }
    faith(f) {
      const box = el("div", { class: "faith", id: "faith-" + this.index });
      box.append(el("b", {}, "Faithfulness on " + f.frames + " of these frames"));
      const tab = el("table");
      const hr = el("tr");
      ["map", "deletion AUC \u2193", "insertion AUC \u2191"].forEach(s => hr.append(el("th", {}, s)));
      tab.append(hr);
      [[D.method, f.gradcam], ["random", f.random]].forEach(([name, m]) => {
        const tr = el("tr");
        tr.append(el("td", {}, name), el("td", {}, fmt(m.deletion_auc[0], 3) + " \u00b1 " + fmt(m.deletion_auc[1], 3)),
                  el("td", {}, fmt(m.insertion_auc[0], 3) + " \u00b1 " + fmt(m.insertion_auc[1], 3)));
        tab.append(tr);
      });
      box.append(tab);
      box.append(el("div", {}, D.method + " beats random on " + Math.round(100 * f.wins.deletion) + "% of frames by " +
        "deletion, " + Math.round(100 * f.wins.insertion) + "% by insertion (probability of the action taken, " +
        f.steps + " steps, baseline blurred with \u03c3 = " + f.blur_sigma + " px; " + f.seconds + " s)."));
      // Mean curves: deletion solid, insertion dashed; Grad-CAM in colour, random in grey.
      const W = 330, H = 64, L = 36, R = 6, fr = f.fractions;
      const g = sv("svg", { class: "curves", width: W, height: H, viewBox: "0 0 " + W + " " + H });
      g.append(sv("rect", { x: L, y: 2, width: W - L - R, height: H - 16, fill: "#fafbfc", stroke: "#d8dde3" }));
      const all = [].concat(f.gradcam.deletion_curve, f.gradcam.insertion_curve, f.random.deletion_curve,
                            f.random.insertion_curve);
      const top = Math.max(1e-6, Math.max(...all));
      const px = u => L + u * (W - L - R), py = p => 2 + (1 - p / top) * (H - 16);
      const line = (c, color, dash) => g.append(sv("polyline", {
        points: c.map((p, k) => fmt(px(fr[k]), 1) + "," + fmt(py(p), 1)).join(" "), fill: "none", stroke: color,
        "stroke-width": 1.3, "stroke-dasharray": dash }));
      line(f.random.deletion_curve, "#9aa3ad", "none"); line(f.random.insertion_curve, "#9aa3ad", "4 2");
      line(f.gradcam.deletion_curve, "#d62728", "none"); line(f.gradcam.insertion_curve, "#d62728", "4 2");
      g.append(sv("text", { x: L - 4, y: 10, "text-anchor": "end" }, fmt(top, 2)),
               sv("text", { x: L - 4, y: H - 14, "text-anchor": "end" }, "0"),
               sv("text", { x: L, y: H - 2 }, "share of pixels deleted / inserted \u2192"));
      box.append(g);
      return box;
    }
    render(t) {
      const a = this.a;
      if (this.img.getAttribute("src") !== a.frames[t]) this.img.src = a.frames[t];
      const kind = state.overlay;
      if (kind === "none") {
        this.canvas.style.visibility = "hidden";
        this.caption.textContent = "No heatmap: the frame as the agent saw it (" + a.names[a.actions[t]] + " taken).";
      } else {
        const m = this.map(kind, t), [, , words] = this.source(kind, t);
        const ctx = this.canvas.getContext("2d"), img = ctx.createImageData(this.VW, this.VH), px = img.data;
        let any = false;
        for (let k = 0; k < m.length; k++) {
          const c = Math.min(255, Math.floor(m[k] * 256)) * 3;  // matplotlib's table index for m in [0, 1]
          px[4 * k] = D.lut[c]; px[4 * k + 1] = D.lut[c + 1]; px[4 * k + 2] = D.lut[c + 2]; px[4 * k + 3] = 255;
          if (m[k] > 0) any = true;
        }
        ctx.putImageData(img, 0, 0);
        this.canvas.style.visibility = "visible";
        this.canvas.style.opacity = String(state.alpha);
        this.caption.textContent = words + " \u00b7 layer " + a.layer + (any ? "" : " \u00b7 map all 0");
        this.caption.classList.toggle("zero", !any);
      }
      a.names.forEach((n, k) => {
        const row = this.barRows[k], p = a.probs[t][k];
        row.fill.style.width = (100 * p).toFixed(1) + "%";
        row.num.textContent = fmt(p);
        row.name.classList.toggle("taken", k === a.actions[t]);
      });
      const x = this.x(t), act = a.actions[t];
      this.cursor.setAttribute("x1", fmt(x, 1)); this.cursor.setAttribute("x2", fmt(x, 1));
      this.point.setAttribute("cx", fmt(x, 1)); this.point.setAttribute("cy", fmt(this.yp(a.probs[t][act]), 1));
      this.point.setAttribute("fill", D.palette[act % D.palette.length]);
      this.vpoint.setAttribute("cx", fmt(x, 1)); this.vpoint.setAttribute("cy", fmt(this.yv(a.values[t]), 1));
    }
  }

  const agents = D.agents.map((a, i) => new Agent(a, i));
  const scrub = document.getElementById("scrub"), label = document.getElementById("frame-label");
  const play = document.getElementById("play");
  scrub.max = String(T - 1);

  function show(t) {
    state.t = Math.max(0, Math.min(T - 1, t | 0));
    scrub.value = String(state.t);
    label.textContent = "frame " + (state.t + 1) + " / " + T + " \u00b7 agent step " + D.agents[0].steps[state.t];
    document.body.dataset.frame = String(state.t);
    agents.forEach(ag => ag.render(state.t));
  }
  function setOverlay(kind) {
    state.overlay = kind;
    document.querySelectorAll("input[name=overlay]").forEach(r => { r.checked = r.value === kind; });
    show(state.t);
  }
  function setPlaying(on) {
    state.playing = on;
    clearInterval(state.timer);
    if (on) state.timer = setInterval(() => show((state.t + 1) % T), 1000 / (D.fps * state.speed));
    play.innerHTML = on ? "&#10074;&#10074; pause" : "&#9654; play";
    play.setAttribute("aria-pressed", String(on));
  }
  scrub.addEventListener("input", () => show(+scrub.value));
  play.addEventListener("click", () => setPlaying(!state.playing));
  document.getElementById("speed").addEventListener("change", ev => {
    state.speed = +ev.target.value; if (state.playing) setPlaying(true);
  });
  document.querySelectorAll("input[name=overlay]").forEach(
    r => r.addEventListener("change", () => setOverlay(r.value)));
  const alpha = document.getElementById("alpha");
  alpha.value = String(D.alpha);
  alpha.addEventListener("input", () => { state.alpha = +alpha.value; show(state.t); });
  document.addEventListener("keydown", ev => {
    const tag = ev.target.tagName;
    if (tag === "SELECT" || (tag === "INPUT" && ev.target.type === "range")) return;  // their own keys
    if (ev.key === "ArrowRight") { show(state.t + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { show(state.t - 1); ev.preventDefault(); }
    else if (ev.key === " ") { setPlaying(!state.playing); ev.preventDefault(); }
  });
  // The colour bar: the table the heatmaps are coloured through.
  const cb = document.getElementById("colorbar").getContext("2d"), bar = cb.createImageData(256, 1);
  for (let k = 0; k < 256; k++) {
    bar.data.set([D.lut[3 * k], D.lut[3 * k + 1], D.lut[3 * k + 2], 255], 4 * k);
  }
  cb.putImageData(bar, 0, 0);
  // Initial state from the address, e.g. page.html#t=40&overlay=value (what --screenshot uses).
  const q = new URLSearchParams(location.hash.slice(1));
  if (D.overlays.includes(q.get("overlay"))) state.overlay = q.get("overlay");
  if (q.has("alpha") && isFinite(+q.get("alpha"))) state.alpha = Math.max(0, Math.min(1, +q.get("alpha")));
  alpha.value = String(state.alpha);
  setOverlay(state.overlay);
  show(q.has("t") ? +q.get("t") : 0);
  // The laid-out height, for a screenshot sized to the whole page (tools/explain_html.py --screenshot).
  document.body.dataset.height = String(Math.ceil(document.documentElement.scrollHeight));
  // For tests and the curious: the map the heatmap shows, and the current state.
  window.explainer = { agents, show, setOverlay, setPlaying, state,
                       map: (i, kind, t) => Array.from(agents[i].map(kind, t)) };
})();
