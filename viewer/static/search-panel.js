// The viewer's search box: IIIF Content Search 2.0 inside the open manifest, when it declares a
// SearchService2. Matches are listed with their context, drawn on the page as OpenSeadragon overlays,
// stepped through with previous/next; the current page's text can be laid over the image.

import { parseXywh } from "./deeplink.js";

const MAX_RESULT_PAGES = 5;

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function tag(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === true) node.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

// "canvas#xywh=1,2,3,4" or {id: "canvas#xywh=…"} -> {canvas, region}; null without a region.
function targetRegion(target) {
  const id = typeof target === "string" ? target : target && (target.id || target.source);
  if (typeof id !== "string") return null;
  const [canvas, fragment] = id.split("#");
  if (!fragment || !fragment.startsWith("xywh=")) return null;
  try {
    return { canvas, region: parseXywh(fragment.slice(5)) };
  } catch {
    return null;
  }
}

// A search answer -> matches [{canvas, regions, prefix, exact, suffix}], from the contextualizing
// annotations (Content Search 2.0 §4.3.1) when present, else one match per annotation.
export function matchesOf(answer) {
  const items = new Map(asList(answer.items).map((item) => [item.id, item]));
  const contexts = asList(answer.annotations).flatMap((page) => asList(page.items));
  const matches = [];
  if (contexts.length) {
    for (const context of contexts) {
      const targets = asList(context.target);
      const parts = targets.map((target) => targetRegion(items.get(target.source)?.target)).filter(Boolean);
      const selector = asList(targets[0]?.selector).find((found) => found.type === "TextQuoteSelector") || {};
      if (!parts.length) continue;
      matches.push({ canvas: parts[0].canvas, regions: parts.map((part) => part.region),
        prefix: selector.prefix || "", exact: selector.exact || "", suffix: selector.suffix || "" });
    }
    return matches;
  }
  for (const item of items.values()) {
    const part = targetRegion(item.target);
    const body = asList(item.body)[0] || {};
    if (part) matches.push({ canvas: part.canvas, regions: [part.region], prefix: "", exact: body.value || "", suffix: "" });
  }
  return matches;
}

export class SearchPanel {
  constructor(view) {
    this.view = view;
    this.matches = [];
    this.current = -1;
    this.textShown = false;
    this.texts = new Map();
    const id = view.uniqueId("search");
    this.input = tag("input", { id, type: "search", class: "iv-search-input", required: true, maxlength: "200" });
    this.submit = tag("button", { type: "submit", class: "iv-search-submit" });
    this.form = tag("form", { class: "iv-search-form", role: "search" }, this.input, this.submit);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search(this.input.value).catch((error) => this.say(error.message));
    });
    this.previousButton = tag("button", { type: "button", class: "iv-search-previous", disabled: true }, "‹");
    this.nextButton = tag("button", { type: "button", class: "iv-search-next", disabled: true }, "›");
    this.previousButton.addEventListener("click", () => this.show(this.current - 1));
    this.nextButton.addEventListener("click", () => this.show(this.current + 1));
    this.counter = tag("span", { class: "iv-search-count", role: "status" });
    this.textButton = tag("button", { type: "button", class: "iv-text-toggle", "aria-pressed": "false" });
    this.textButton.addEventListener("click", () => this.toggleText());
    this.results = tag("ol", { class: "iv-search-results" });
    this.root = tag("section", { class: "iv-search", hidden: true }, this.form,
      tag("div", { class: "iv-search-steps" }, this.previousButton, this.counter, this.nextButton, this.textButton),
      this.results);
  }

  get text() {
    return this.view.text;
  }

  applyLanguage() {
    const text = this.text;
    this.root.setAttribute("aria-label", text.searchPanel);
    this.input.setAttribute("aria-label", text.searchLabel);
    this.input.placeholder = text.searchLabel;
    this.submit.textContent = text.search;
    for (const [button, name] of [[this.previousButton, "previousMatch"], [this.nextButton, "nextMatch"]]) {
      button.setAttribute("aria-label", text[name]);
      button.title = text[name];
    }
    this.textButton.textContent = text.textLayer;
    this.textButton.setAttribute("aria-label", text.textLayer);
    this.renderResults();
  }

  // A new manifest: its search service (if any) and none of the previous document's matches.
  setManifest(manifest) {
    const service = asList(manifest.service).find((item) => (item.type || item["@type"]) === "SearchService2");
    this.serviceId = service ? service.id || service["@id"] : null;
    this.root.hidden = !this.serviceId;
    this.matches = [];
    this.current = -1;
    this.texts.clear();
    this.renderResults();
  }

  say(message) {
    this.counter.textContent = message;
  }

  async search(q) {
    if (!this.serviceId || !q.trim()) return;
    this.say(this.text.searching);
    let url = `${this.serviceId}?q=${encodeURIComponent(q)}`;
    const found = [];
    for (let page = 0; url && page < MAX_RESULT_PAGES; page += 1) {
      const response = await fetch(url, { headers: { Accept: "application/ld+json, application/json" } });
      if (!response.ok) throw new Error((await response.text()).trim() || `${response.status}`);
      const answer = await response.json();
      found.push(...matchesOf(answer));
      url = answer.next?.id || null;
    }
    this.matches = found.filter((match) => this.view.canvases.some((canvas) => canvas.id === match.canvas));
    this.current = -1;
    this.renderResults();
    if (this.matches.length) this.show(0);
    else this.drawOverlays();
  }

  renderResults() {
    const text = this.text;
    this.results.replaceChildren(...this.matches.map((match, index) => {
      const page = this.view.canvases.findIndex((canvas) => canvas.id === match.canvas) + 1;
      const button = tag("button", { type: "button", class: "iv-search-result", "data-index": index },
        tag("span", { class: "iv-search-page" }, `${text.page} ${page}: `), match.prefix, tag("mark", {}, match.exact),
        match.suffix);
      if (index === this.current) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => this.show(index));
      return tag("li", {}, button);
    }));
    const count = this.matches.length;
    this.previousButton.disabled = this.current <= 0;
    this.nextButton.disabled = this.current < 0 || this.current >= count - 1;
    if (this.serviceId && this.input.value) {
      this.say(count ? text.matchOf(this.current + 1, count) : text.noMatches);
    } else this.say("");
  }

  // Open the match's page and zoom to its words, with a margin of twice their height around them.
  show(index) {
    if (index < 0 || index >= this.matches.length) return;
    this.current = index;
    const match = this.matches[index];
    const left = Math.min(...match.regions.map((r) => r.x));
    const top = Math.min(...match.regions.map((r) => r.y));
    const right = Math.max(...match.regions.map((r) => r.x + r.width));
    const bottom = Math.max(...match.regions.map((r) => r.y + r.height));
    const margin = 2 * Math.max(...match.regions.map((r) => r.height));
    const region = { x: left - margin, y: top - margin, width: right - left + 2 * margin, height: bottom - top + 2 * margin };
    this.renderResults();
    const canvasIndex = this.view.canvases.findIndex((canvas) => canvas.id === match.canvas);
    const sameCanvas = canvasIndex === this.view.index;
    this.view.goTo(canvasIndex, region);
    if (sameCanvas) this.drawOverlays();
  }

  async toggleText() {
    this.textShown = !this.textShown;
    this.textButton.setAttribute("aria-pressed", String(this.textShown));
    await this.drawOverlays();
  }

  // The current page's lines (supplementing annotations with a text body, from the canvas's
  // annotation pages), fetched once per page.
  async pageText(canvasIndex) {
    if (!this.texts.has(canvasIndex)) {
      const canvas = this.view.manifest.items[canvasIndex];
      this.texts.set(canvasIndex, (async () => {
        const lines = [];
        for (const reference of asList(canvas.annotations)) {
          const page = reference.items ? reference : await (await fetch(reference.id)).json();
          const annotations = asList(page.items).filter((item) => asList(item.motivation).includes("supplementing"));
          const byLine = annotations.filter((item) => item.textGranularity === "line");
          for (const item of byLine.length ? byLine : annotations) {
            const part = targetRegion(item.target);
            const body = asList(item.body)[0] || {};
            if (part && body.value) lines.push({ region: part.region, text: body.value });
          }
        }
        return lines;
      })());
    }
    return this.texts.get(canvasIndex);
  }

  // Called whenever a page opens: the matches on it and, when asked for, its text.
  async drawOverlays() {
    const viewer = this.view.viewer;
    if (!viewer || this.view.index < 0) return;
    const canvas = this.view.canvas;
    const lines = this.textShown ? await this.pageText(this.view.index).catch(() => []) : [];
    if (canvas !== this.view.canvas) return;
    viewer.clearOverlays();
    for (const line of lines) {
      viewer.addOverlay({ element: tag("div", { class: "iv-text-line", lang: "vi" }, line.text),
        location: this.view.toViewportRect(line.region) });
    }
    this.matches.forEach((match, index) => {
      if (match.canvas !== canvas.id) return;
      for (const region of match.regions) {
        const mark = tag("div", { class: index === this.current ? "iv-hit iv-hit-current" : "iv-hit", "aria-hidden": "true" });
        viewer.addOverlay({ element: mark, location: this.view.toViewportRect(region) });
      }
    });
  }
}
