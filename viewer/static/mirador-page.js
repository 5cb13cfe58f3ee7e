// /viewer/mirador?manifest=URL (a manifest or a collection) with Mirador 4, in Vietnamese or English.

import { webUrl } from "./deeplink.js";

const params = new URLSearchParams(window.location.search);
// Mirador lists the resource's URL as a link: only an http(s) one is opened.
const resource = webUrl(params.get("manifest") || params.get("collection"), document.baseURI);
const language = params.get("lang") === "en" ? "en" : "vi";
document.documentElement.lang = language;

// Properties whose values Mirador turns into links or image sources (Presentation 3 and 2): an entry
// whose URL is not http(s) (javascript:, data:) is dropped before Mirador sees the manifest.
const LINK_PROPERTIES = new Set(["rights", "license", "homepage", "seeAlso", "rendering", "logo", "thumbnail",
  "related", "within", "partOf", "service"]);

function linkUrlOf(entry) {
  return typeof entry === "string" ? entry : entry && typeof entry === "object" ? entry.id || entry["@id"] : null;
}

function withWebLinksOnly(value) {
  if (Array.isArray(value)) return value.map(withWebLinksOnly);
  if (!value || typeof value !== "object") return value;
  const kept = {};
  for (const [key, item] of Object.entries(value)) {
    if (!LINK_PROPERTIES.has(key)) {
      kept[key] = withWebLinksOnly(item);
    } else if (Array.isArray(item)) {
      kept[key] = item.filter((entry) => webUrl(linkUrlOf(entry), document.baseURI)).map(withWebLinksOnly);
    } else if (webUrl(linkUrlOf(item), document.baseURI)) {
      kept[key] = withWebLinksOnly(item);
    }
  }
  return kept;
}

function webLinksOnly(url, action) {
  return action.manifestJson ? { ...action, manifestJson: withWebLinksOnly(action.manifestJson) } : action;
}

window.Mirador.viewer({
  id: "mirador",
  language,
  availableLanguages: { vi: "Tiếng Việt", en: "English" },
  requests: { postprocessors: [webLinksOnly] },
  windows: resource ? [{ manifestId: resource, maximized: true }] : [],
  catalog: resource ? [{ manifestId: resource }] : [],
  window: { allowClose: false, defaultSideBarPanel: "info", sideBarOpenByDefault: false },
  // Mirador lists commenting and tagging annotations only; a page's text (OCR, ALTO) is supplementing.
  annotations: { filteredMotivations: ["oa:commenting", "oa:tagging", "sc:painting", "commenting", "tagging", "supplementing"] },
  workspaceControlPanel: { enabled: !resource },
});
