// <iiif-viewer manifest="…" canvas="…" region="x,y,w,h" content="…" lang="vi|en">: a deep-zoom viewer
// for IIIF Presentation 3.0 manifests on OpenSeadragon (loaded before this module as a classic script).

import {
  decodeContentState, encodeContentState, formatXywh, parseXywh, regionImageUrl, regionToViewport,
  viewportToRegion, webUrl,
} from "./deeplink.js";
import { normaliseLanguage, pickText, STRINGS } from "./i18n.js";
import {
  authServices, checkAccess, completeLogin, holdsToken, imageSource, isRedirect, openAccessWindow, openLogoutWindow,
} from "./auth-client.js";
import { SearchPanel } from "./search.js";
import { element } from "./dom.js";

const OPENSEADRAGON_URL = new URL("../vendor/openseadragon/openseadragon.min.js", import.meta.url);
const STYLESHEET_URL = new URL("iiif-viewer.css", import.meta.url);
const REDUCED_MOTION = "(prefers-reduced-motion: reduce)";
const THUMBNAIL_EDGE = 96;
const PREVIEW_EDGE = 800;

// Icons are drawn on a 24 x 24 grid with strokes, so they follow the text colour and need no font.
const ICONS = {
  zoomIn: "M5 12h14M12 5v14",
  zoomOut: "M5 12h14",
  home: "M4 11l8-7 8 7M6 9.5V20h12V9.5",
  rotateLeft: "M4 5v5h5M5 10a8 8 0 1 1 2 6",
  rotateRight: "M20 5v5h-5M19 10a8 8 0 1 0-2 6",
  fullScreen: "M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5",
  previous: "M15 5l-7 7 7 7",
  next: "M9 5l7 7-7 7",
  contents: "M8 6h12M8 12h12M8 18h12M4 6h.01M4 12h.01M4 18h.01",
  share: "M12 15V4M7 9l5-5 5 5M5 13v7h14v-7",
  search: "M10.5 17a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13zM15.5 15.5L20 20",
};

const BUTTONS = [
  ["zoomIn", (view) => view.zoomBy(1.5)],
  ["zoomOut", (view) => view.zoomBy(1 / 1.5)],
  ["home", (view) => view.goHome()],
  ["rotateLeft", (view) => view.rotateBy(-90)],
  ["rotateRight", (view) => view.rotateBy(90)],
  ["fullScreen", (view) => view.toggleFullScreen()],
  ["previous", (view) => view.step(-1)],
  ["next", (view) => view.step(1)],
  ["contents", (view) => view.toggleContents()],
  ["share", (view) => view.openShare()],
  ["search", (view) => view.searchPanel.toggle()],
];

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

// One <script> tag is the whole embed: the module brings its stylesheet and OpenSeadragon itself.
let openSeadragonLoaded = null;
function loadOpenSeadragon() {
  if (window.OpenSeadragon) return Promise.resolve();
  openSeadragonLoaded ||= new Promise((resolve, reject) => {
    const script = element("script", { src: OPENSEADRAGON_URL.href });
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error(`cannot load ${OPENSEADRAGON_URL}`)));
    document.head.append(script);
  });
  return openSeadragonLoaded;
}

function addStylesheet() {
  const present = [...document.querySelectorAll("link[rel=stylesheet]")].some((link) => link.href === STYLESHEET_URL.href);
  if (!present) document.head.append(element("link", { rel: "stylesheet", href: STYLESHEET_URL.href }));
}

function requireWebUrl(value, what) {
  const url = webUrl(value, document.baseURI);
  if (!url) throw new Error(`the ${what} must be an http(s) URL, not ${JSON.stringify(String(value))}`);
  return url;
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/ld+json, application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}: ${url}`);
  return response.json();
}

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// The parts of a Presentation 3.0 canvas the viewer needs: its size and its image service.
function describeCanvas(canvas) {
  const annotation = asList(canvas.items).flatMap((page) => asList(page.items))[0];
  const body = annotation ? asList(annotation.body)[0] : null;
  const services = body ? asList(body.service) : [];
  const service = services.find((item) => (item.type || item["@type"]) === "ImageService3") || services[0];
  if (!service) throw new Error(`canvas ${canvas.id} has no image service`);
  const serviceUrl = webUrl(service.id || service["@id"], document.baseURI);
  if (!serviceUrl) throw new Error(`canvas ${canvas.id} has no http(s) image service`);
  const serviceId = serviceUrl.replace(/\/$/, "");
  return {
    id: canvas.id,
    label: canvas.label,
    width: canvas.width,
    height: canvas.height,
    serviceId,
    imageSize: [body.width || canvas.width, body.height || canvas.height],
    // The page's text, as annotation pages (Presentation 3.0 §3.4 annotations), http(s) only.
    textPages: asList(canvas.annotations).map((page) => webUrl(page.id, document.baseURI)).filter(Boolean),
  };
}

function rangeEntries(range) {
  return asList(range.items).map((item) => {
    if (item.type === "Range") return { label: item.label, canvas: firstCanvas(item), children: rangeEntries(item) };
    return null;
  }).filter(Boolean);
}

function firstCanvas(range) {
  for (const item of asList(range.items)) {
    if (item.type === "Canvas") return item.id.split("#")[0];
    if (item.type === "SpecificResource" && item.source) return (item.source.id || item.source).split("#")[0];
    if (item.type === "Range") {
      const found = firstCanvas(item);
      if (found) return found;
    }
  }
  return null;
}

export class IIIFViewer extends HTMLElement {
  static observedAttributes = ["lang"];

  constructor() {
    super();
    this.language = "vi";
    this.manifest = null;
    this.manifestUrl = null;
    this.canvases = [];
    this.index = 0;
    this.pendingRegion = null;
    this.viewer = null;
    // The Auth 2.0 state of the image in view: its probe service, the access service the reader may use,
    // and what the last probe (or token service) said.
    this.access = null;
  }

  connectedCallback() {
    if (this.root) return;
    this.language = normaliseLanguage(this.getAttribute("lang"));
    addStylesheet();
    this.build();
    const start = this.startingState();
    if (!start) {
      this.setStatus(this.text.noManifest);
      this.dataset.state = "empty";
      return;
    }
    this.show(start, { immediately: true }).catch((error) => this.fail(error));
  }

  attributeChangedCallback(name, previous, value) {
    if (name === "lang" && this.root && previous !== value) this.setLanguage(value);
  }

  get text() {
    return STRINGS[this.language];
  }

  get reducedMotion() {
    return window.matchMedia(REDUCED_MOTION).matches;
  }

  // The first view: a content state wins over manifest/canvas/region attributes, as the spec asks.
  startingState() {
    const content = this.getAttribute("content");
    if (content) return decodeContentState(content);
    const manifest = this.getAttribute("manifest");
    if (!manifest) return null;
    const region = this.getAttribute("region");
    return { manifest, canvas: this.getAttribute("canvas") || null, region: region ? parseXywh(region) : null };
  }

  build() {
    this.classList.add("iv");
    this.titleNode = element("h1", { class: "iv-title" });
    this.languageButton = element("button", { type: "button", class: "iv-language" });
    this.languageButton.addEventListener("click", () => this.setLanguage(this.language === "vi" ? "en" : "vi"));
    this.logoutButton = element("button", { type: "button", class: "iv-logout", hidden: true });
    this.logoutButton.addEventListener("click", () => this.logOut());
    const header = element("div", { class: "iv-header" }, this.titleNode, this.logoutButton, this.languageButton);

    this.contentsList = element("ul");
    this.contentsHeading = element("h2", { id: this.uniqueId("contents") });
    this.contentsPanel = element("nav", { class: "iv-contents-panel", hidden: true, "aria-labelledby": this.contentsHeading.id },
      this.contentsHeading, this.contentsList);
    this.stage = element("div", { class: "iv-stage", role: "region" }, this.buildAccessPanel());

    this.buttons = {};
    const toolbar = element("div", { class: "iv-toolbar", role: "toolbar" });
    for (const [name, action] of BUTTONS) {
      const button = element("button", { type: "button", class: `iv-button iv-${name}`, "data-action": name },
        icon(name));
      button.addEventListener("click", () => action(this));
      this.buttons[name] = button;
      toolbar.append(button);
    }
    this.searchPanel = new SearchPanel(this);
    const body = element("div", { class: "iv-body" }, this.contentsPanel, this.stage, this.searchPanel.panel);
    this.pageIndicator = element("span", { class: "iv-page", "aria-live": "polite" });
    toolbar.append(this.pageIndicator);
    this.toolbar = toolbar;

    this.strip = element("ol", { class: "iv-strip" });
    this.stripNav = element("nav", { class: "iv-strip-nav" }, this.strip);
    this.about = element("div", { class: "iv-about" });
    this.status = element("p", { class: "iv-status", role: "status" });
    this.shareDialog = this.buildShareDialog();
    this.root = element("div", { class: "iv-root" }, header, body, toolbar, this.stripNav, this.about, this.status,
      this.shareDialog);
    this.append(this.root);
    this.root.addEventListener("keydown", (event) => this.onKey(event));
    this.applyLanguage();
  }

  // Shown over the stage when the reader may not see the full image (Auth 2.0 "3.3.1.1 Active Pattern
  // Interaction": the heading and note, then the button that opens the access service).
  buildAccessPanel() {
    this.accessHeading = element("h2", { class: "iv-access-heading", id: this.uniqueId("access") });
    this.accessNote = element("p", { class: "iv-access-note" });
    this.loginButton = element("button", { type: "button", class: "iv-login" });
    this.loginButton.addEventListener("click", () => this.logIn());
    this.accessMessage = element("p", { class: "iv-access-message", role: "status" });
    this.accessPanel = element("section", { class: "iv-access", hidden: true, "aria-labelledby": this.accessHeading.id },
      this.accessHeading, this.accessNote, this.loginButton, this.accessMessage);
    return this.accessPanel;
  }

  buildShareDialog() {
    this.shareHeading = element("h2", { id: this.uniqueId("share") });
    this.shareLinkLabel = element("label", { for: this.uniqueId("share-link") });
    this.shareLinkInput = element("input", { id: this.uniqueId("share-link"), type: "url", readonly: true, class: "iv-share-link" });
    this.copyButton = element("button", { type: "button", class: "iv-copy" });
    this.copyButton.addEventListener("click", () => this.copyLink());
    this.citationHeading = element("h3");
    this.citation = element("p", { class: "iv-citation" });
    this.previewImage = element("img", { class: "iv-preview", alt: "" });
    this.closeButton = element("button", { type: "button", class: "iv-close" });
    this.closeButton.addEventListener("click", () => this.shareDialog.close());
    return element("dialog", { class: "iv-share-dialog", "aria-labelledby": this.shareHeading.id },
      this.shareHeading, this.shareLinkLabel, this.shareLinkInput, this.copyButton, this.citationHeading,
      this.citation, this.previewImage, this.closeButton);
  }

  uniqueId(suffix) {
    if (!this.idPrefix) {
      IIIFViewer.count = (IIIFViewer.count || 0) + 1;
      this.idPrefix = `iiif-viewer-${IIIFViewer.count}`;
    }
    return `${this.idPrefix}-${suffix}`;
  }

  setLanguage(value) {
    const language = normaliseLanguage(value);
    if (language === this.language && this.getAttribute("lang") === language) return;
    this.language = language;
    if (this.getAttribute("lang") !== language) this.setAttribute("lang", language);
    this.applyLanguage();
    this.dispatchEvent(new CustomEvent("iiif-viewer:language", { detail: { language }, bubbles: true }));
  }

  applyLanguage() {
    const text = this.text;
    this.languageButton.textContent = text.switchLanguage;
    this.languageButton.setAttribute("aria-label", text.switchLanguageLabel);
    this.languageButton.setAttribute("lang", this.language === "vi" ? "en" : "vi");
    this.stage.setAttribute("aria-label", text.viewer);
    this.toolbar.setAttribute("aria-label", text.toolbar);
    for (const [name, button] of Object.entries(this.buttons)) {
      button.setAttribute("aria-label", text[name]);
      button.title = text[name];
    }
    this.contentsHeading.textContent = text.contents;
    this.stripNav.setAttribute("aria-label", text.pages);
    this.shareHeading.textContent = text.shareTitle;
    this.shareLinkLabel.textContent = text.shareLink;
    this.copyButton.textContent = text.copy;
    this.citationHeading.textContent = text.citation;
    this.previewImage.alt = text.preview;
    this.closeButton.textContent = text.close;
    this.searchPanel.applyLanguage();
    this.renderAccessText();
    if (this.manifest) this.renderManifestText();
  }

  setStatus(message) {
    this.status.textContent = message;
  }

  fail(error) {
    this.dataset.state = "error";
    this.setStatus(`${this.text.loadFailed}: ${error.message}`);
    console.error(error);
  }

  // Open a content state: load its manifest unless already open, go to its canvas, fit its region.
  async show(state, { immediately = this.reducedMotion } = {}) {
    this.showCount = (this.showCount || 0) + 1;
    const ticket = this.showCount;
    // A manifest still loading for an earlier show() replaces the open one when it arrives. Decided
    // before it arrived, this show() would go to a page of a manifest no longer open (and the page
    // would never leave "loading"): manifests are loaded one after another.
    await this.manifestLoad?.done.catch(() => {});
    if (ticket !== this.showCount) return;
    if (state.manifest !== this.manifestUrl) {
      this.dataset.state = "loading";
      this.setStatus(this.text.loading);
      if (this.manifestLoad?.url !== state.manifest) {
        this.manifestLoad = { url: state.manifest, done: this.loadManifest(state.manifest) };
      }
      await this.manifestLoad.done;
    }
    // A later show() (a reader scrolling on) has taken over while this one waited for its manifest.
    if (ticket !== this.showCount) return;
    const found = state.canvas ? this.canvases.findIndex((canvas) => canvas.id === state.canvas) : -1;
    const index = found >= 0 ? found : state.canvas ? 0 : this.startIndex();
    this.goTo(index, state.region, immediately);
  }

  async loadManifest(url) {
    let manifest = await fetchJson(requireWebUrl(url, "manifest"));
    if (manifest.type === "Collection") {
      const first = asList(manifest.items).find((item) => item.type === "Manifest");
      if (!first) throw new Error(`collection ${url} holds no manifest`);
      manifest = await fetchJson(requireWebUrl(first.id, "manifest"));
    }
    this.manifest = manifest;
    this.manifestUrl = url;
    this.canvases = asList(manifest.items).map(describeCanvas);
    this.rightToLeft = manifest.viewingDirection === "right-to-left";
    this.root.classList.toggle("iv-rtl", this.rightToLeft);
    this.strip.setAttribute("dir", this.rightToLeft ? "rtl" : "ltr");
    this.index = -1;
    this.renderStrip();
    this.renderManifestText();
    this.buttons.contents.hidden = !this.contentsList.children.length;
    this.searchPanel.setManifest(manifest);
    const single = this.canvases.length < 2;
    this.buttons.previous.hidden = single;
    this.buttons.next.hidden = single;
    this.stripNav.hidden = single;
    // Created once the strip and texts are laid out, so the stage has its final size.
    await this.ensureOpenSeadragon();
  }

  startIndex() {
    const start = this.manifest.start;
    if (!start) return 0;
    const id = (start.type === "SpecificResource" ? start.source.id || start.source : start.id).split("#")[0];
    return Math.max(0, this.canvases.findIndex((canvas) => canvas.id === id));
  }

  ensureOpenSeadragon() {
    this.viewerReady ||= loadOpenSeadragon().then(() => this.createOpenSeadragon());
    return this.viewerReady;
  }

  createOpenSeadragon() {
    const mount = element("div", { class: "iv-osd" });
    this.stage.append(mount);
    this.viewer = window.OpenSeadragon({
      element: mount,
      prefixUrl: "",
      showNavigationControl: false,
      showNavigator: true,
      navigatorPosition: "BOTTOM_RIGHT",
      navigatorSizeRatio: 0.18,
      crossOriginPolicy: "Anonymous",
      animationTime: this.reducedMotion ? 0 : 1.0,
      visibilityRatio: 0.5,
      maxZoomPixelRatio: 2,
      // Resizes are handled below, at once; OpenSeadragon's own polling re-fits a frame late, with
      // constraints, and would move a region that was just fitted.
      autoResize: false,
      // The 2D canvas drawer needs no GPU: where WebGL is software-rendered (no GPU, locked-down
      // machines, headless browsers) OpenSeadragon 6's WebGL drawer took 38-40 s to open a 1200 x 900 map
      // that this draws in 4-6 s, and 4x longer to redraw zooms (headless Chromium, --disable-gpu, loaded machine).
      drawer: "canvas",
      gestureSettingsMouse: { clickToZoom: false },
    });
    this.viewer.addHandler("open", () => {
      this.setStatus("");
      this.syncContainerSize();
      // A new page opens whole; the reader then sees the move into its region unless motion is reduced.
      if (this.pendingRegion) {
        this.viewer.viewport.fitBounds(this.toViewportRect(this.pendingRegion), this.pendingImmediately);
        this.pendingRegion = null;
      }
      this.searchPanel.pageOpened();
      this.dataset.state = "ready";
      this.dispatchEvent(new CustomEvent("iiif-viewer:open", { detail: { canvas: this.canvas.id }, bubbles: true }));
    });
    new ResizeObserver(() => {
      this.syncContainerSize();
      this.viewer.forceRedraw();
    }).observe(mount);
    this.viewer.addHandler("open-failed", (event) => this.fail(new Error(event.message)));
    this.viewer.addHandler("tile-loaded", () => {
      this.dataset.tilesLoaded = String(Number(this.dataset.tilesLoaded || 0) + 1);
    });
    this.viewer.addHandler("animation-finish", () => {
      this.dispatchEvent(new CustomEvent("iiif-viewer:settled", { bubbles: true }));
    });
  }

  // The stage changes size when the page strip or the title changes with the document; a region must
  // be fitted into the size the stage has now, so the viewport learns it first.
  syncContainerSize() {
    const mount = this.viewer.element;
    const size = new window.OpenSeadragon.Point(mount.clientWidth, mount.clientHeight);
    if (size.x && size.y && !size.equals(this.viewer.viewport.getContainerSize())) this.viewer.viewport.resize(size, true);
  }

  get canvas() {
    return this.canvases[this.index];
  }

  canvasesWithText() {
    return this.canvases.filter((canvas) => canvas.textPages.length);
  }

  toViewportRect(region) {
    const bounds = regionToViewport(region, this.canvas.width);
    return new window.OpenSeadragon.Rect(bounds.x, bounds.y, bounds.width, bounds.height);
  }

  goTo(index, region = null, immediately = this.reducedMotion) {
    if (index < 0 || index >= this.canvases.length) return;
    if (index === this.index) {
      if (!this.viewer.world.getItemCount()) Object.assign(this, { pendingRegion: region, pendingImmediately: immediately });
      else if (region) {
        this.syncContainerSize();
        this.viewer.viewport.fitBounds(this.toViewportRect(region), immediately);
      }
      else this.viewer.viewport.goHome(immediately);
      return;
    }
    this.index = index;
    this.pendingRegion = region;
    this.pendingImmediately = immediately;
    this.dataset.state = "loading";
    this.dataset.tilesLoaded = "0";
    // Emptied now, not when the new image's info.json has come: a region asked for meanwhile waits for it.
    this.viewer.close();
    this.openCanvasImage();
    this.updatePosition();
  }

  // The canvas' image as this reader may see it: an open image at once; a restricted one (its info.json
  // lists an Auth 2.0 probe service) in full when the probe allows it, else its substitute (or nothing)
  // with the probe's heading and note and a way to log in.
  // ``keepView``: the same canvas again (after a login or logout), at the region the reader was looking at.
  async openCanvasImage(keepView = false) {
    const ticket = this.openTicket = (this.openTicket || 0) + 1;
    const current = () => ticket === this.openTicket;
    this.access = null;
    this.renderAccess();
    try {
      const info = await fetchJson(`${this.canvas.serviceId}/info.json`);
      if (!current()) return;
      const [probeService] = authServices(info);
      if (!probeService) {
        this.openImage({ info }, "open");
        return;
      }
      this.access = { probeService, info, service: null, result: null, tokenError: null, message: "" };
      const outcome = await checkAccess(probeService);
      if (current()) await this.applyAccess(outcome, keepView);
    } catch (error) {
      if (current()) this.fail(error);
    }
  }

  // Auth 2.0 "7.1 Authorization Flow Algorithm": 200 shows the image, a redirect its location, anything
  // else the first substitute the viewer can show, with the panel. No result (the token service said
  // why not) leaves the image as it is and says why.
  async applyAccess({ result, access, tokenError }, keepView = false) {
    const state = this.access;
    Object.assign(state, { service: access || state.service, result: result || state.result,
      tokenError: tokenError || null, message: "" });
    if (!result) {
      this.renderAccess();
      return;
    }
    if (result.status === 200) {
      this.renderAccess();
      this.openImage({ info: state.info }, "full", keepView);
      if (access) this.reloadRefusedThumbnails();
      return;
    }
    if (isRedirect(result)) {
      this.renderAccess();
      this.openImage(await this.sourceOf(imageSource(result.location)), "full", keepView);
      return;
    }
    this.renderAccess();
    const substitute = (Array.isArray(result.substitute) ? result.substitute : []).map(imageSource).find(Boolean);
    if (substitute) this.openImage(await this.sourceOf(substitute), "substitute", keepView);
    else this.showNothing();
  }

  // info.json is fetched here rather than by OpenSeadragon so that its size is known for share previews.
  async sourceOf(source) {
    return source.infoUrl ? { info: await fetchJson(source.infoUrl) } : source;
  }

  openImage(source, access, keepView = false) {
    this.dataset.access = access;
    if (keepView && this.viewer.world.getItemCount()) {
      Object.assign(this, { pendingRegion: this.currentRegion(), pendingImmediately: true });
    }
    if (source.imageUrl) {
      this.shown = null;
      this.viewer.open({ type: "image", url: source.imageUrl });
      return;
    }
    const info = source.info;
    const serviceId = String(info.id || info["@id"]).replace(/\/$/, "");
    this.shown = { serviceId, imageSize: [info.width, info.height] };
    // Tiles of a restricted image are decided by the access cookie. From this page's origin an
    // anonymous-CORS image request carries it; from another origin only a request without CORS does
    // (the server answers CORS with "*", which credentials may not use), leaving the canvas unreadable,
    // which drawing does not need.
    const foreign = new URL(serviceId).origin !== window.location.origin;
    const tileSource = structuredClone(info);
    this.viewer.open(access === "full" && foreign ? { tileSource, crossOriginPolicy: false } : tileSource);
  }

  // No image the reader may see: an empty stage under the panel.
  showNothing() {
    this.shown = null;
    this.viewer.close();
    this.dataset.access = "none";
    this.dataset.state = "restricted";
  }

  // Opens the access service in a window in the click itself (a user gesture), then follows the flow
  // when the window closes.
  logIn() {
    const state = this.access;
    if (!state || !state.service) return;
    const { probeService, service } = state;
    const closed = openAccessWindow(service);
    state.message = this.text.loginWaiting;
    this.renderAccessText();
    closed
      .then(() => completeLogin(probeService, service))
      .then((outcome) => {
        if (this.access === state) return this.applyAccess(outcome, true);
        return undefined;
      })
      .catch((error) => {
        if (this.access !== state) return;
        state.message = `${this.text.loginFailed}: ${error.message}`;
        this.renderAccessText();
      });
  }

  // Auth 2.0 "6.2 Logout Interaction": the logout service in its own window, the token forgotten, and
  // the image probed again (which shows the substitute).
  logOut() {
    const service = this.access && this.access.service;
    if (!service || !service.logout) return;
    openLogoutWindow(service);
    this.openCanvasImage(true);
  }

  renderAccess() {
    const state = this.access;
    const denied = Boolean(state && (state.tokenError || (state.result && state.result.status !== 200
      && !isRedirect(state.result))));
    this.accessPanel.hidden = !denied;
    this.loginButton.hidden = !(state && state.service && state.service.profile !== "external");
    this.logoutButton.hidden = !(state && !denied && state.service && state.service.logout
      && holdsToken(state.probeService));
    this.renderAccessText();
  }

  // Texts come from the server's language maps (the probe's, else the token error's, else the access
  // service's), set as text only; the interface's own words fill the gaps.
  renderAccessText() {
    const state = this.access;
    const text = this.text;
    const language = this.language;
    const pick = (...maps) => pickText(maps.find(Boolean), language);
    const service = state && state.service;
    const result = state && state.result;
    const tokenError = state && state.tokenError;
    this.accessHeading.textContent = pick(tokenError && tokenError.heading,
      tokenError && service && service.token.errorHeading, result && result.heading,
      state && state.probeService.errorHeading, service && service.heading) || text.restricted;
    this.accessNote.textContent = pick(tokenError && tokenError.note, tokenError && service && service.token.errorNote,
      result && result.note, state && state.probeService.errorNote, service && service.note) || text.restrictedNote;
    this.loginButton.textContent = pick(service && service.confirmLabel, service && service.label) || text.logIn;
    this.loginButton.title = pick(service && service.label);
    this.logoutButton.textContent = pick(service && service.logout && service.logout.label) || text.logOut;
    this.accessMessage.textContent = state ? state.message : "";
    for (const node of [this.accessHeading, this.accessNote, this.loginButton, this.logoutButton]) node.lang = language;
  }

  step(direction) {
    this.goTo(this.index + direction);
  }

  zoomBy(factor) {
    this.viewer.viewport.zoomBy(factor, undefined, this.reducedMotion);
    this.viewer.viewport.applyConstraints(this.reducedMotion);
  }

  goHome() {
    this.viewer.viewport.goHome(this.reducedMotion);
  }

  rotateBy(degrees) {
    const rotation = (this.viewer.viewport.getRotation() + degrees + 360) % 360;
    this.viewer.viewport.setRotation(rotation, this.reducedMotion);
  }

  toggleFullScreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else this.requestFullscreen().catch((error) => this.setStatus(error.message));
  }

  toggleContents() {
    this.contentsPanel.hidden = !this.contentsPanel.hidden;
    this.buttons.contents.setAttribute("aria-expanded", String(!this.contentsPanel.hidden));
  }

  // The region in view, in canvas coordinates (what a shared link reopens).
  currentRegion() {
    return viewportToRegion(this.viewer.viewport.getBounds(true), this.canvas.width);
  }

  currentState() {
    return { manifest: this.manifestUrl, canvas: this.canvas.id, region: this.currentRegion() };
  }

  // Shared links open the embed page: the one named by embed-url, else the server's, next to this module.
  embedUrl() {
    const named = this.getAttribute("embed-url");
    return named ? new URL(named, document.baseURI) : new URL("../embed", import.meta.url);
  }

  shareLink() {
    const link = this.embedUrl();
    link.search = "";
    link.searchParams.set("iiif-content", encodeContentState(this.currentState()));
    link.searchParams.set("lang", this.language);
    return link.href;
  }

  // Of the image in view: the substitute's when the reader sees the substitute.
  regionImage(region, maxEdge) {
    const canvas = this.canvas;
    const shown = this.shown || canvas;
    return regionImageUrl(shown.serviceId, region, [canvas.width, canvas.height], shown.imageSize, maxEdge);
  }

  citationText(link) {
    const text = this.text;
    const parts = [pickText(this.manifest.label, this.language)];
    const attribution = this.manifest.requiredStatement;
    if (attribution) parts.push(pickText(attribution.value, this.language));
    parts.push(`${text.page} ${this.index + 1}, ${text.region} ${formatXywh(this.currentRegion())}`);
    const today = new Date().toISOString().slice(0, 10);
    return `${parts.join(". ")}. ${link} (${text.accessed} ${today}).`;
  }

  openShare() {
    const link = this.shareLink();
    this.shareLinkInput.value = link;
    this.citation.textContent = this.citationText(link);
    this.previewImage.src = this.regionImage(this.currentRegion(), PREVIEW_EDGE);
    if (!this.shareDialog.open) this.shareDialog.showModal();
    this.shareLinkInput.select();
  }

  async copyLink() {
    this.shareLinkInput.select();
    try {
      await navigator.clipboard.writeText(this.shareLinkInput.value);
      this.setStatus(this.text.copied);
    } catch (error) {
      this.setStatus(error.message);
    }
  }

  onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const inField = event.target.closest("input, textarea, dialog, .openseadragon-canvas");
    const forward = this.rightToLeft ? "ArrowLeft" : "ArrowRight";
    const backward = this.rightToLeft ? "ArrowRight" : "ArrowLeft";
    let direction = 0;
    if (event.key === "PageDown") direction = 1;
    else if (event.key === "PageUp") direction = -1;
    else if (!inField && event.key === forward) direction = 1;
    else if (!inField && event.key === backward) direction = -1;
    if (!direction || this.canvases.length < 2) return;
    event.preventDefault();
    this.step(direction);
  }

  renderStrip() {
    this.strip.replaceChildren(...this.canvases.map((canvas, index) => {
      const image = element("img", {
        src: regionImageUrl(canvas.serviceId, null, [canvas.width, canvas.height], canvas.imageSize, THUMBNAIL_EDGE),
        alt: "",
        loading: "lazy",
      });
      // A restricted page's thumbnail is refused until the reader logs in (then reloadRefusedThumbnails).
      image.addEventListener("error", () => { image.dataset.refused = ""; });
      const button = element("button", { type: "button", class: "iv-thumb", "data-index": index }, image,
        element("span", { class: "iv-thumb-label" }));
      button.addEventListener("click", () => this.goTo(index));
      return element("li", {}, button);
    }));
  }

  reloadRefusedThumbnails() {
    this.strip.querySelectorAll("img[data-refused]").forEach((image) => {
      delete image.dataset.refused;
      image.src = image.src;  // a refused image is not cached: setting its source asks the server again
    });
  }

  renderManifestText() {
    const language = this.language;
    const label = pickText(this.manifest.label, language);
    this.titleNode.textContent = label;
    this.titleNode.lang = language;
    this.strip.querySelectorAll(".iv-thumb").forEach((button, index) => {
      const pageLabel = pickText(this.canvases[index].label, language) || `${this.text.page} ${index + 1}`;
      button.querySelector(".iv-thumb-label").textContent = pageLabel;
      button.setAttribute("aria-label", `${this.text.page} ${index + 1}: ${pageLabel}`);
    });
    this.renderContents();
    this.renderAbout();
    this.updatePosition();
  }

  renderContents() {
    const language = this.language;
    const build = (entries) => entries.map((entry) => {
      const button = element("button", { type: "button", class: "iv-range" }, pickText(entry.label, language));
      const index = this.canvases.findIndex((canvas) => canvas.id === entry.canvas);
      button.addEventListener("click", () => this.goTo(Math.max(index, 0)));
      const item = element("li", {}, button);
      if (entry.children.length) item.append(element("ul", {}, ...build(entry.children)));
      return item;
    });
    const top = asList(this.manifest.structures).map((range) => ({
      label: range.label, canvas: firstCanvas(range), children: rangeEntries(range),
    }));
    this.contentsList.replaceChildren(...build(top));
  }

  renderAbout() {
    const language = this.language;
    const text = this.text;
    const manifest = this.manifest;
    const parts = [];
    if (manifest.requiredStatement) {
      parts.push(element("p", { class: "iv-attribution" },
        element("strong", {}, `${pickText(manifest.requiredStatement.label, language) || text.attribution}: `),
        pickText(manifest.requiredStatement.value, language)));
    }
    if (manifest.rights) {
      // Anything but an http(s) URL (javascript:, data:) is shown as text, never made a link.
      const rights = webUrl(manifest.rights, document.baseURI);
      parts.push(element("p", { class: "iv-rights" }, element("strong", {}, `${text.rights}: `),
        rights ? element("a", { href: rights, rel: "license" }, String(manifest.rights)) : String(manifest.rights)));
    }
    this.about.replaceChildren(...parts);
  }

  updatePosition() {
    if (!this.canvases.length || this.index < 0) return;
    this.pageIndicator.textContent = this.text.pageOf(this.index + 1, this.canvases.length);
    this.buttons.previous.disabled = this.index === 0;
    this.buttons.next.disabled = this.index === this.canvases.length - 1;
    this.strip.querySelectorAll(".iv-thumb").forEach((button, index) => {
      if (index === this.index) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    });
  }
}

if (!customElements.get("iiif-viewer")) customElements.define("iiif-viewer", IIIFViewer);
