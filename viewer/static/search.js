// Search inside a document (IIIF Content Search 2.0) and the text of a page, for <iiif-viewer>.
// The pure readers at the top turn service answers into plain values; SearchPanel is the interface.

import { splitFragment, webUrl } from "./deeplink.js";
import { element } from "./dom.js";

const MAX_RESULT_PAGES = 10; // a document's hits arrive in pages of the service's size; stop at 10 of them
const HIT_MARGIN = 0.6; // a hit is shown with this much of its size around it, so its line reads

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function idOf(value) {
  return typeof value === "string" ? value : value?.id || value?.["@id"] || "";
}

function quoteOf(selectors) {
  const quote = asList(selectors).find((selector) => selector.type === "TextQuoteSelector");
  return quote ? { prefix: quote.prefix || "", exact: quote.exact || "", suffix: quote.suffix || "" } : null;
}

// The canvas and region an annotation targets: "canvas#xywh=…", {id: "canvas#xywh=…"} or a
// SpecificResource with a FragmentSelector (Presentation 3.0 §4.2, Search 2.0 §3.3).
export function targetRegion(target) {
  const resource = asList(target)[0];
  if (!resource) return null;
  if (resource.type === "SpecificResource") {
    const fragment = asList(resource.selector).find((selector) => selector.type === "FragmentSelector");
    const source = idOf(resource.source).split("#")[0];
    return fragment ? { canvas: source, region: splitFragment(`${source}#${fragment.value}`)[1] } : { canvas: source, region: null };
  }
  const [canvas, region] = splitFragment(idOf(resource));
  return { canvas, region };
}

function union(regions) {
  const x = Math.min(...regions.map((r) => r.x));
  const y = Math.min(...regions.map((r) => r.y));
  const right = Math.max(...regions.map((r) => r.x + r.width));
  const bottom = Math.max(...regions.map((r) => r.y + r.height));
  return { x, y, width: right - x, height: bottom - y };
}

// PURE: a Content Search 2.0 answer -> hits {canvas, region, prefix, exact, suffix}, in the order given.
// With the §3.4 `annotations` list, each highlighting or contextualizing annotation is one hit whose
// region covers every annotation it names (§3.4.5); without it, each item is a hit (§3.3).
export function searchHits(answer) {
  const items = new Map(asList(answer.items).map((item) => [idOf(item), item]));
  const extras = asList(answer.annotations).flatMap((page) => asList(page.items));
  if (!extras.length) {
    return [...items.values()].map((item) => {
      const place = targetRegion(item.target);
      const body = asList(item.body)[0];
      return place && { ...place, prefix: "", exact: body?.value || "", suffix: "" };
    }).filter((hit) => hit?.canvas);
  }
  const hits = [];
  for (const extra of extras) {
    const targets = asList(extra.target);
    const places = targets.map((target) => targetRegion(items.get(idOf(target.source))?.target)).filter(Boolean);
    if (!places.length) continue;
    const canvas = places[0].canvas;
    const regions = places.filter((place) => place.canvas === canvas && place.region).map((place) => place.region);
    // A match across annotations quotes each part (§3.4.5), or repeats one quote of the whole match.
    const quotes = targets.map((target) => quoteOf(target.selector)).filter(Boolean)
      .filter((quote, index, all) => index === 0 || quote.exact !== all[index - 1].exact);
    hits.push({
      canvas,
      region: regions.length ? union(regions) : null,
      prefix: quotes[0]?.prefix || "",
      exact: quotes.map((quote) => quote.exact).join(" "),
      suffix: quotes.at(-1)?.suffix || "",
    });
  }
  return hits;
}

// PURE: an AnnotationPage of a canvas's text -> its lines {text, region}, in reading order. Lines are
// the annotations whose textGranularity is "line"; a page that marks no granularity is all lines.
export function pageLines(annotationPage) {
  const textual = asList(annotationPage.items).filter((annotation) => annotation.motivation === "supplementing"
    || asList(annotation.motivation).includes("supplementing"));
  const marked = textual.some((annotation) => annotation.textGranularity);
  return textual
    .filter((annotation) => !marked || annotation.textGranularity === "line")
    .map((annotation) => {
      const body = asList(annotation.body)[0] || {};
      return { text: body.value || "", language: body.language || null, region: targetRegion(annotation.target)?.region || null };
    })
    .filter((line) => line.text);
}

// The search service of a manifest (Search 2.0 §2: SearchService2 in the manifest's `service`).
export function searchService(manifest) {
  const service = asList(manifest.service).find((item) => (item.type || item["@type"]) === "SearchService2");
  return service ? webUrl(idOf(service), document.baseURI) : null;
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/ld+json, application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}: ${url}`);
  return response.json();
}

// The search box, its results and the page text, in a side panel of the viewer. All text from the
// service is set as text, never as markup.
export class SearchPanel {
  constructor(viewer) {
    this.viewer = viewer;
    viewer.buttons.search.hidden = true; // until a document with a search service or text is open
    this.hits = [];
    this.current = -1;
    this.lines = new Map(); // canvas id -> its lines, once read
    this.heading = element("h2", { id: viewer.uniqueId("search") });
    this.label = element("label", { for: viewer.uniqueId("search-query") });
    this.input = element("input", { id: viewer.uniqueId("search-query"), type: "search", class: "iv-search-query",
      autocomplete: "off", required: true });
    this.submit = element("button", { type: "submit", class: "iv-search-submit" });
    this.form = element("form", { class: "iv-search-form", role: "search" }, this.label, this.input, this.submit);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search(this.input.value).catch((error) => this.setSummary(`${this.text.searchFailed}: ${error.message}`));
    });
    this.summary = element("p", { class: "iv-search-summary", role: "status" });
    this.previousHit = element("button", { type: "button", class: "iv-hit-previous", disabled: true });
    this.nextHit = element("button", { type: "button", class: "iv-hit-next", disabled: true });
    this.previousHit.addEventListener("click", () => this.select(this.current - 1));
    this.nextHit.addEventListener("click", () => this.select(this.current + 1));
    this.results = element("ol", { class: "iv-search-results" });
    this.textToggle = element("button", { type: "button", class: "iv-text-toggle", "aria-expanded": "false" });
    this.textToggle.addEventListener("click", () => this.toggleText());
    this.textHeading = element("h3", { id: viewer.uniqueId("page-text") });
    this.textLayer = element("div", { class: "iv-text-layer", hidden: true, "aria-labelledby": this.textHeading.id },
      this.textHeading);
    this.panel = element("section", { class: "iv-search-panel", hidden: true, "aria-labelledby": this.heading.id },
      this.heading, this.form, this.summary,
      element("div", { class: "iv-hit-steps" }, this.previousHit, this.nextHit),
      this.results, this.textToggle, this.textLayer);
  }

  get text() {
    return this.viewer.text;
  }

  applyLanguage() {
    const text = this.text;
    this.heading.textContent = text.searchTitle;
    this.label.textContent = text.searchLabel;
    this.submit.textContent = text.searchSubmit;
    this.previousHit.textContent = text.previousHit;
    this.nextHit.textContent = text.nextHit;
    this.textToggle.textContent = this.textLayer.hidden ? text.showText : text.hideText;
    this.textHeading.textContent = text.pageText;
    if (this.query !== undefined) this.renderResults();
  }

  // A new document: its service decides whether searching is offered at all.
  setManifest(manifest) {
    this.service = searchService(manifest);
    this.hits = [];
    this.current = -1;
    this.lines.clear();
    this.query = undefined;
    this.results.replaceChildren();
    this.setSummary("");
    this.form.hidden = !this.service;
    this.viewer.buttons.search.hidden = !this.service && !this.viewer.canvasesWithText().length;
  }

  toggle() {
    this.panel.hidden = !this.panel.hidden;
    this.viewer.buttons.search.setAttribute("aria-expanded", String(!this.panel.hidden));
    if (!this.panel.hidden) (this.form.hidden ? this.textToggle : this.input).focus();
  }

  setSummary(message) {
    this.summary.textContent = message;
  }

  async search(query) {
    const words = query.trim();
    if (!words || !this.service) return;
    this.query = words;
    this.setSummary(this.text.searching);
    const url = new URL(this.service);
    url.searchParams.set("q", words);
    const hits = [];
    let next = url.href;
    for (let page = 0; next && page < MAX_RESULT_PAGES; page += 1) {
      const answer = await fetchJson(next);
      hits.push(...searchHits(answer));
      next = webUrl(idOf(answer.next), document.baseURI);
    }
    const known = new Set(this.viewer.canvases.map((canvas) => canvas.id));
    this.hits = hits.filter((hit) => known.has(hit.canvas));
    this.current = -1;
    this.renderResults();
    this.drawHighlights();
    if (this.hits.length) this.select(0);
  }

  renderResults() {
    const text = this.text;
    this.setSummary(this.hits.length ? text.hitsFound(this.hits.length) : text.noHits);
    this.results.replaceChildren(...this.hits.map((hit, index) => {
      const page = this.viewer.canvases.findIndex((canvas) => canvas.id === hit.canvas) + 1;
      const button = element("button", { type: "button", class: "iv-hit", "data-index": index },
        element("span", { class: "iv-hit-page" }, `${text.page} ${page}: `),
        hit.prefix, element("mark", {}, hit.exact), hit.suffix);
      button.addEventListener("click", () => this.select(index));
      return element("li", {}, button);
    }));
    this.updateSteps();
  }

  updateSteps() {
    this.previousHit.disabled = this.current <= 0;
    this.nextHit.disabled = this.current < 0 || this.current >= this.hits.length - 1;
    this.results.querySelectorAll(".iv-hit").forEach((button, index) => {
      if (index === this.current) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
  }

  // Open a hit's page and zoom to it, with its line readable around it.
  select(index) {
    if (index < 0 || index >= this.hits.length) return;
    this.current = index;
    this.updateSteps();
    const hit = this.hits[index];
    const page = this.viewer.canvases.findIndex((canvas) => canvas.id === hit.canvas);
    this.viewer.goTo(page, hit.region ? this.around(hit.region, this.viewer.canvases[page]) : null);
    this.drawHighlights();
  }

  around(region, canvas) {
    const marginX = Math.max(region.width, region.height * 4) * HIT_MARGIN;
    const marginY = region.height * 4 * HIT_MARGIN;
    const x = Math.max(0, Math.round(region.x - marginX));
    const y = Math.max(0, Math.round(region.y - marginY));
    return {
      x, y,
      width: Math.min(canvas.width - x, Math.round(region.width + 2 * marginX)),
      height: Math.min(canvas.height - y, Math.round(region.height + 2 * marginY)),
    };
  }

  // The hits on the page in view, as boxes over the image (the current one stronger).
  drawHighlights() {
    const osd = this.viewer.viewer;
    const canvas = this.viewer.canvas;
    if (!osd || !canvas || !osd.world.getItemCount()) return;
    osd.clearOverlays();
    this.hits.forEach((hit, index) => {
      if (hit.canvas !== canvas.id || !hit.region) return;
      const box = element("div", { class: index === this.current ? "iv-highlight iv-highlight-current" : "iv-highlight",
        "data-hit": index, title: hit.exact });
      osd.addOverlay({ element: box, location: this.viewer.toViewportRect(hit.region) });
    });
  }

  // The viewer opened a page: mark its hits, and show its text if the reader asked for it.
  pageOpened() {
    this.drawHighlights();
    if (!this.textLayer.hidden) this.showText().catch((error) => this.setSummary(error.message));
  }

  toggleText() {
    this.textLayer.hidden = !this.textLayer.hidden;
    this.textToggle.setAttribute("aria-expanded", String(!this.textLayer.hidden));
    this.textToggle.textContent = this.textLayer.hidden ? this.text.showText : this.text.hideText;
    if (!this.textLayer.hidden) this.showText().catch((error) => this.setSummary(error.message));
  }

  async showText() {
    const canvas = this.viewer.canvas;
    if (!this.lines.has(canvas.id)) {
      const pages = await Promise.all(canvas.textPages.map((url) => fetchJson(url)));
      this.lines.set(canvas.id, pages.flatMap(pageLines));
    }
    if (this.viewer.canvas !== canvas) return;
    const lines = this.lines.get(canvas.id);
    this.textLayer.replaceChildren(this.textHeading, ...(lines.length
      ? lines.map((line) => element("p", { class: "iv-text-line", lang: line.language }, line.text))
      : [element("p", {}, this.text.noPageText)]));
  }
}
