// salient's interactive report. Draws the views of every section from the JSON data block.
// Every text reaches the page through textContent or an attribute value, never as markup.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("salient-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const tooltip = document.getElementById("tooltip");
  // The SVG figures' class colours (colour-blind safe), by number of classes.
  const PALETTES = DATA.palettes || {};

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return Number(v.toPrecision(4)).toString();
  }
  function modelName(provenance) {
    const dir = (provenance && provenance.model && provenance.model.dir) || "model";
    const parts = String(dir).split(/[\\/]+/).filter((p) => p && p !== "." && p !== "..");
    return parts.length ? parts[parts.length - 1] : String(dir);
  }
  function classColours(n) {
    return PALETTES[String(Math.min(Math.max(n, 1), 8))] || ["#777777"];
  }
  // A colour for `v` in [0, 1] (magnitudes) or [-1, 1] (signed values): white to blue, or red
  // through white to blue.
  function shade(v, signed) {
    const t = Math.max(-1, Math.min(1, v));
    const [r, g, b] = signed && t < 0 ? [178, 24, 43] : [33, 102, 172];
    const a = Math.abs(t);
    const mix = (c) => Math.round(255 + (c - 255) * a);
    return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
  }
  function textColour(v) {
    return Math.abs(v) > 0.6 ? "#fff" : "#1b1b1b";
  }
  function maxAbs(values) {
    let m = 0;
    for (const v of values) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
    return m || 1;
  }

  // ---- the tooltip ----
  function showTooltip(event, build) {
    tooltip.replaceChildren();
    build(tooltip);
    tooltip.hidden = false;
    moveTooltip(event);
  }
  function moveTooltip(event) {
    const pad = 14;
    const w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    let x = event.clientX + pad, y = event.clientY + pad;
    if (x + w > window.innerWidth) x = Math.max(0, event.clientX - w - pad);
    if (y + h > window.innerHeight) y = Math.max(0, event.clientY - h - pad);
    tooltip.style.left = x + "px";
    tooltip.style.top = y + "px";
  }
  function hideTooltip() {
    tooltip.hidden = true;
  }
  // A strip (one row) or a small heatmap (rows x columns) of values, as a canvas.
  function matrixCanvas(rows, signed, cell) {
    const columns = rows.reduce((m, r) => Math.max(m, r.length), 0);
    const canvas = el("canvas", { width: Math.max(1, columns * cell), height: Math.max(1, rows.length * cell) });
    const ctx = canvas.getContext("2d");
    const m = maxAbs(rows.flat());
    rows.forEach((row, i) =>
      row.forEach((v, j) => {
        ctx.fillStyle = shade(v / m, signed);
        ctx.fillRect(j * cell, i * cell, cell, cell);
      })
    );
    return canvas;
  }

  // ---- classifier saliency: every saliency section's sentences, models side by side ----
  function saliencyView(host, sections) {
    const runs = [];
    for (const s of sections) {
      const results = Array.isArray(s.data.results) ? s.data.results : [];
      const classes = s.data.classes || [];
      for (const a of results) {
        const p = a.provenance || {};
        const key = `${p.method}${p.score ? " · " + p.score : ""}`;
        runs.push({ a, classes, key, model: modelName(p), section: s.name || s.title });
      }
    }
    if (!runs.length) return;
    const keys = [...new Set(runs.map((r) => r.key))];
    const controls = el("div", { class: "controls" });
    const methodLabel = el("label", { for: "saliency-method" }, "method · score");
    const method = el("select", { id: "saliency-method", class: "method-switch" });
    for (const k of keys) method.append(el("option", { value: k }, k));
    const scaleLabel = el("label", { for: "saliency-scale" }, "shading");
    const scale = el("select", { id: "saliency-scale" });
    scale.append(el("option", { value: "row" }, "each row to its own largest value"));
    scale.append(el("option", { value: "sentence" }, "one scale per sentence (models compared)"));
    controls.append(methodLabel, method, scaleLabel, scale);
    host.append(controls);
    const list = el("div", { class: "sentences" });
    host.append(list);
    const texts = [...new Set(runs.map((r) => r.a.text))];

    function draw() {
      list.replaceChildren();
      const chosen = runs.filter((r) => r.key === method.value);
      for (const text of texts) {
        const rows = chosen.filter((r) => r.a.text === text);
        if (!rows.length) continue;
        const card = el("div", { class: "sentence" });
        card.append(el("h3", {}, text));
        const shared = maxAbs(rows.flatMap((r) => r.a.token_scores));
        for (const r of rows) card.append(saliencyRow(r, scale.value === "sentence" ? shared : null));
        list.append(card);
      }
    }
    method.addEventListener("change", draw);
    scale.addEventListener("change", draw);
    draw();
  }

  function saliencyRow(run, shared) {
    const a = run.a;
    const signed = a.values === "signed";
    const m = shared || maxAbs(a.token_scores);
    const row = el("div", { class: "row" });
    row.append(el("div", { class: "model" }, run.model));
    const tokens = el("div", { class: "tokens" });
    a.words.forEach((word, i) => {
      const v = a.token_scores[i];
      const t = el("span", { class: "token", "data-value": v, "data-position": i }, word);
      if (a.ids && a.ids[i] === 1) t.classList.add("unknown");
      t.style.backgroundColor = shade(v / m, signed);
      t.style.color = textColour(v / m);
      t.addEventListener("mouseenter", (e) => {
        t.classList.add("active");
        showTooltip(e, (box) => {
          box.append(el("div", {}, a.tokens[i] !== word ? `${word} (token ${a.tokens[i]})` : word));
          const line = el("div");
          line.append(el("span", {}, `${a.token_score}: `), el("span", { class: "value" }, fmt(v)));
          box.append(line);
          const values = (a.matrix && a.matrix[i]) || [];
          if (values.length > 1) {
            box.append(el("div", { class: "note" }, `${a.value_label} over ${values.length} dimensions: min ${fmt(Math.min(...values))}, max ${fmt(Math.max(...values))}`));
            box.append(matrixCanvas([values], signed, 6));
          }
        });
      });
      t.addEventListener("mousemove", moveTooltip);
      t.addEventListener("mouseleave", () => {
        t.classList.remove("active");
        hideTooltip();
      });
      tokens.append(t);
    });
    row.append(tokens);
    const names = run.classes;
    const probs = (a.probabilities || []).map((p, k) => `${names[k] || k} ${fmt(p)}`).join(" · ");
    const predicted = names[a.predicted] !== undefined ? names[a.predicted] : a.predicted;
    const explained = a.class !== a.predicted ? `; explains ${a.class_name}` : "";
    row.append(el("div", { class: "prediction" }, `predicted ${predicted}${explained}${probs ? " — " + probs : ""}`));
    return row;
  }

  // ---- projections ----
  function scatterView(host, section) {
    const p = section.data;
    const points = Array.isArray(p.points) ? p.points : [];
    const classes = p.classes || [];
    const colours = classColours(classes.length);
    const controls = el("div", { class: "controls" });
    const colourBy = el("select", { class: "colour-by" });
    colourBy.append(el("option", { value: "predicted" }, "colour by predicted class"));
    const hasGold = points.some((q) => q.gold !== null && q.gold !== undefined);
    const gold = el("option", { value: "gold" }, "colour by gold class");
    if (!hasGold) gold.disabled = true;
    colourBy.append(gold);
    const search = el("input", { type: "search", class: "search", placeholder: "search a phrase", "aria-label": "search a phrase" });
    const found = el("span", { class: "note found" });
    const zoomIn = el("button", { type: "button", class: "zoom-in" }, "+");
    const zoomOut = el("button", { type: "button", class: "zoom-out" }, "−");
    const reset = el("button", { type: "button", class: "zoom-reset" }, "reset zoom");
    controls.append(colourBy, search, found, zoomIn, zoomOut, reset);
    host.append(controls);
    const legend = el("div", { class: "legend" });
    host.append(legend);

    const xs = points.map((q) => q.x), ys = points.map((q) => q.y);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const span = Math.max(x1 - x0, y1 - y0) || 1;
    const margin = span * 0.08;
    const full = [x0 - margin, -y1 - margin, x1 - x0 + 2 * margin || 1, y1 - y0 + 2 * margin || 1];
    let view = full.slice();
    const svg = svgEl("svg", { class: "scatter", viewBox: full.join(" "), width: 900, height: Math.round((900 * full[3]) / full[2]) || 600 });
    const r = span / 140;
    const showLabels = points.length <= 80;
    const marks = points.map((q) => {
      const c = svgEl("circle", { class: "point", cx: q.x, cy: -q.y, r: q.highlighted ? r * 1.6 : r });
      if (q.highlighted) c.classList.add("highlighted");
      const title = svgEl("title");
      title.textContent = q.phrase;
      c.append(title);
      c.addEventListener("mouseenter", (e) =>
        showTooltip(e, (box) => {
          box.append(el("div", { class: "value" }, q.phrase));
          box.append(el("div", {}, `predicted ${q.predicted}${q.gold !== null && q.gold !== undefined ? "; gold " + q.gold : ""}`));
          const probs = (q.probabilities || []).map((v, k) => `${classes[k] || k} ${fmt(v)}`).join(" · ");
          if (probs) box.append(el("div", { class: "note" }, probs));
          box.append(el("div", { class: "note" }, q.at));
        })
      );
      c.addEventListener("mousemove", moveTooltip);
      c.addEventListener("mouseleave", hideTooltip);
      svg.append(c);
      let label = null;
      if (showLabels || q.highlighted) {
        label = svgEl("text", { x: q.x + r * 1.8, y: -q.y + r * 0.6, "font-size": span / 60 });
        label.textContent = q.phrase;
        svg.append(label);
      }
      return { q, c, label };
    });
    host.append(svg);
    const info = [];
    if (p.method && p.method.method) info.push(p.method.method === "tsne" ? `t-SNE, perplexity ${p.method.perplexity}, seed ${p.method.seed}` : "PCA");
    if (p.kl_divergence !== null && p.kl_divergence !== undefined) info.push(`KL divergence ${fmt(p.kl_divergence)}`);
    info.push(`${points.length} phrases; scroll or use +/− to zoom, drag to pan`);
    host.append(el("p", { class: "note" }, info.join(" · ")));

    function recolour() {
      const by = colourBy.value;
      legend.replaceChildren();
      classes.forEach((name, k) => {
        const item = el("span", {}, name);
        item.style.setProperty("--swatch", colours[k % colours.length]);
        legend.append(item);
      });
      for (const m of marks) {
        const name = by === "gold" ? m.q.gold : m.q.predicted;
        const k = classes.indexOf(name);
        m.c.setAttribute("fill", k >= 0 ? colours[k % colours.length] : "#cccccc");
      }
    }
    function find() {
      const term = search.value.trim().toLowerCase();
      svg.classList.toggle("searching", term.length > 0);
      let n = 0;
      for (const m of marks) {
        const hit = term.length > 0 && m.q.phrase.toLowerCase().includes(term);
        m.c.classList.toggle("match", hit);
        if (m.label) m.label.classList.toggle("match", hit);
        n += hit;
      }
      found.textContent = term ? `${n} match${n === 1 ? "" : "es"}` : "";
    }
    function setView(v) {
      view = v;
      svg.setAttribute("viewBox", view.join(" "));
    }
    function zoom(factor, cx, cy) {
      const [vx, vy, vw, vh] = view;
      const px = cx === undefined ? vx + vw / 2 : cx, py = cy === undefined ? vy + vh / 2 : cy;
      setView([px - (px - vx) * factor, py - (py - vy) * factor, vw * factor, vh * factor]);
    }
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const box = svg.getBoundingClientRect();
      const cx = view[0] + ((e.clientX - box.left) / box.width) * view[2];
      const cy = view[1] + ((e.clientY - box.top) / box.height) * view[3];
      zoom(e.deltaY < 0 ? 0.8 : 1.25, cx, cy);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, view: view.slice() }; });
    window.addEventListener("pointerup", () => { drag = null; });
    svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const box = svg.getBoundingClientRect();
      const dx = ((e.clientX - drag.x) / box.width) * drag.view[2];
      const dy = ((e.clientY - drag.y) / box.height) * drag.view[3];
      setView([drag.view[0] - dx, drag.view[1] - dy, drag.view[2], drag.view[3]]);
    });
    zoomIn.addEventListener("click", () => zoom(0.8));
    zoomOut.addEventListener("click", () => zoom(1.25));
    reset.addEventListener("click", () => setView(full.slice()));
    colourBy.addEventListener("change", recolour);
    search.addEventListener("input", find);
    recolour();
  }

  // ---- autoencoder saliency: output x input matrices ----
  function autoencoderView(host, section) {
    const results = Array.isArray(section.data) ? section.data : [];
    for (const res of results) {
      const steps = res.steps || [];
      if (!steps.length) continue;
      const card = el("div", { class: "sentence" });
      card.append(el("h3", {}, `#${res.sentence}: ${res.text}`));
      card.append(el("p", { class: "note" }, `rebuilt as: ${(res.output_tokens || []).join(" ")} (${res.exact ? "exact" : "not exact"}); each row is one output token, shaded by each input token's saliency for it; hover a cell for that step's tokens x dimensions map`));
      const table = el("table", { class: "matrix" });
      const head = el("tr");
      head.append(el("th"));
      for (const w of steps[0].words) head.append(el("th", { scope: "col" }, w));
      const thead = el("thead");
      thead.append(head);
      table.append(thead);
      const body = el("tbody");
      steps.forEach((step, i) => {
        const tr = el("tr");
        tr.append(el("th", { scope: "row" }, (res.output_tokens || [])[i] || step.class_name));
        const m = maxAbs(step.token_scores);
        step.token_scores.forEach((v, j) => {
          const td = el("td", { "data-value": v });
          td.style.backgroundColor = shade(v / m, step.values === "signed");
          td.addEventListener("mouseenter", (e) => {
            tr.classList.add("active");
            showTooltip(e, (box) => {
              box.append(el("div", {}, `output ${(res.output_tokens || [])[i] || step.class_name} ← input ${step.words[j]}`));
              const line = el("div");
              line.append(el("span", {}, `${step.token_score}: `), el("span", { class: "value" }, fmt(v)));
              box.append(line);
              if (step.matrix && step.matrix.length) {
                box.append(el("div", { class: "note" }, `step ${i + 1}: ${step.value_label}, input tokens x dimensions`));
                box.append(matrixCanvas(step.matrix, step.values === "signed", 4));
              }
            });
          });
          td.addEventListener("mousemove", moveTooltip);
          td.addEventListener("mouseleave", () => {
            tr.classList.remove("active");
            hideTooltip();
          });
          tr.append(td);
        });
        body.append(tr);
      });
      table.append(body);
      card.append(table);
      host.append(card);
    }
  }

  // ---- the page ----
  const sections = DATA.sections || [];
  const saliency = sections.filter((s) => s.kind === "saliency");
  if (saliency.length) {
    const host = saliency.length > 1 ? el("section", { class: "compare" }) : null;
    if (host) {
      host.append(el("h2", {}, "Saliency, models side by side"));
      document.getElementById("report").prepend(host);
      saliencyView(host, saliency);
    } else {
      saliencyView(document.querySelector(`#section-${sections.indexOf(saliency[0])} .view`), saliency);
    }
  }
  sections.forEach((s, k) => {
    const view = document.querySelector(`#section-${k} .view`);
    if (s.kind === "tsne") scatterView(view, s);
    else if (s.kind === "autoencoder-saliency") autoencoderView(view, s);
  });
  document.body.setAttribute("data-ready", "true");
})();
