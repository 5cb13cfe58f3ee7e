// PURE: deep links (IIIF Content State 1.0, canvas= / xywh=) and OpenSeadragon viewport <-> xywh.
// The browser's twin of viewer/deeplink.py; tests/viewer run one table against both.

const PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json";
const XYWH = /^(?:pixel:)?(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/;

export class DeepLinkError extends Error {}

export function parseXywh(text) {
  const match = XYWH.exec(String(text).trim());
  if (!match) throw new DeepLinkError(`xywh must be four numbers x,y,w,h, not '${text}'`);
  const [x, y, width, height] = match.slice(1).map((part) => Math.round(Number(part)));
  if (width <= 0 || height <= 0) throw new DeepLinkError(`xywh needs a width and height above zero, not '${text}'`);
  return { x, y, width, height };
}

export function formatXywh(region) {
  return `${region.x},${region.y},${region.width},${region.height}`;
}

export function splitFragment(uri) {
  const hash = uri.indexOf("#");
  if (hash < 0) return [uri, null];
  const fragment = uri.slice(hash + 1);
  return [uri.slice(0, hash), fragment.startsWith("xywh=") ? parseXywh(fragment.slice(5)) : null];
}

function base64UrlFromAscii(text) {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function asciiFromBase64Url(value) {
  const bare = value.replace(/=+$/, "");
  const padded = bare.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (bare.length % 4)) % 4);
  return atob(padded);
}

export function encodeContentState({ manifest, canvas = null, region = null }) {
  if (!canvas) return manifest;
  const annotation = {
    "@context": PRESENTATION_CONTEXT,
    type: "Annotation",
    motivation: ["contentState"],
    target: {
      id: region ? `${canvas}#xywh=${formatXywh(region)}` : canvas,
      type: "Canvas",
      partOf: [{ id: manifest, type: "Manifest" }],
    },
  };
  return base64UrlFromAscii(encodeURIComponent(JSON.stringify(annotation)));
}

export function decodeContentState(raw) {
  const value = String(raw).trim();
  if (!value) throw new DeepLinkError("iiif-content is empty");
  if (/^https?:\/\//.test(value)) return { manifest: value, canvas: null, region: null };
  if (value.startsWith("{")) return stateFromJson(value);
  let text;
  try {
    text = decodeURIComponent(asciiFromBase64Url(value));
  } catch {
    throw new DeepLinkError("iiif-content is neither a URI nor base64url-encoded content state");
  }
  return stateFromJson(text);
}

function stateFromJson(text) {
  let document;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new DeepLinkError(`iiif-content is not valid JSON (${error.message})`);
  }
  if (!document || typeof document !== "object" || Array.isArray(document)) {
    throw new DeepLinkError("iiif-content must be a JSON object");
  }
  if (document.type === "Annotation") {
    document = Array.isArray(document.target) ? document.target[0] : document.target;
    if (!document || typeof document !== "object") throw new DeepLinkError("iiif-content annotation has no target object");
  }
  return stateFromTarget(document);
}

function stateFromTarget(target) {
  const kind = target.type;
  if (kind === "Manifest" || kind === "Collection") return { manifest: requiredId(target, kind), canvas: null, region: null };
  if (kind === "SpecificResource") {
    if (!target.source || typeof target.source !== "object") throw new DeepLinkError("iiif-content SpecificResource has no source object");
    const state = stateFromTarget(target.source);
    const selector = Array.isArray(target.selector) ? target.selector[0] : target.selector;
    if (selector && String(selector.value || "").startsWith("xywh=")) {
      return { ...state, region: parseXywh(selector.value.slice(5)) };
    }
    return state;
  }
  if (kind === "Canvas") {
    const [canvas, region] = splitFragment(requiredId(target, kind));
    const manifests = (target.partOf || []).filter((part) => part && typeof part === "object").map((part) => part.id);
    if (!manifests.length || typeof manifests[0] !== "string") throw new DeepLinkError("iiif-content Canvas needs partOf naming its Manifest");
    return { manifest: manifests[0], canvas, region };
  }
  throw new DeepLinkError(`iiif-content target type must be Manifest, Canvas or SpecificResource, not '${kind}'`);
}

function requiredId(resource, kind) {
  if (typeof resource.id !== "string" || !resource.id) throw new DeepLinkError(`iiif-content ${kind} has no id`);
  return resource.id;
}

// OpenSeadragon measures its world in units of the first image's width; the image fills the canvas,
// so one viewport unit is one canvas width whatever the image's pixel size.
export function viewportToRegion(bounds, canvasWidth) {
  return {
    x: Math.round(bounds.x * canvasWidth),
    y: Math.round(bounds.y * canvasWidth),
    width: Math.max(1, Math.round(bounds.width * canvasWidth)),
    height: Math.max(1, Math.round(bounds.height * canvasWidth)),
  };
}

export function regionToViewport(region, canvasWidth) {
  return {
    x: region.x / canvasWidth,
    y: region.y / canvasWidth,
    width: region.width / canvasWidth,
    height: region.height / canvasWidth,
  };
}

export function regionImageUrl(serviceId, region, canvasSize, imageSize, maxEdge) {
  const [canvasWidth, canvasHeight] = canvasSize;
  const [imageWidth, imageHeight] = imageSize;
  let left = 0, top = 0, right = imageWidth, bottom = imageHeight;
  if (region) {
    const scaleX = imageWidth / canvasWidth, scaleY = imageHeight / canvasHeight;
    left = Math.min(Math.max(Math.round(region.x * scaleX), 0), imageWidth - 1);
    top = Math.min(Math.max(Math.round(region.y * scaleY), 0), imageHeight - 1);
    right = Math.min(Math.round((region.x + region.width) * scaleX), imageWidth);
    bottom = Math.min(Math.round((region.y + region.height) * scaleY), imageHeight);
  }
  const width = Math.max(right - left, 1), height = Math.max(bottom - top, 1);
  const shrink = Math.min(1, maxEdge / Math.max(width, height));
  const size = `${Math.max(Math.round(width * shrink), 1)},${Math.max(Math.round(height * shrink), 1)}`;
  const regionPart = region ? `${left},${top},${width},${height}` : "full";
  return `${serviceId}/${regionPart}/${size}/0/default.jpg`;
}

// URLs from manifests, content states and query parameters become links or image sources only when
// they are http(s) (relative ones resolve against the page's http(s) address): a javascript: link
// would run script on this origin. The absolute URL, or null. new URL() drops what browsers drop
// (leading spaces and controls, tabs and new lines inside) before reading the scheme.
export function webUrl(value, base) {
  if (typeof value !== "string" || !value.trim()) return null;
  let url;
  try {
    url = new URL(value, base);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}
