// The client side of the IIIF Authorization Flow API 2.0 (https://iiif.io/api/auth/2.0/): read an image's
// probe service and its access, token and logout services; probe with the access token; get a token
// through a hidden frame; open the access and logout services in windows of their own. The viewer
// decides what to show; this module never touches its interface.

import { webUrl } from "./deeplink.js";

// Auth 2.0 "3.3 Interaction Patterns": external first, then kiosk, then active (the least interaction first).
const PROFILE_ORDER = ["external", "kiosk", "active"];
const TOKEN_TIMEOUT_MS = 20_000;
const WINDOW_POLL_MS = 250;
const IMAGE_SERVICE_TYPES = ["ImageService3", "ImageService2", "ImageService1"];

export class AuthError extends Error {
  constructor(message) {
    super(message);
    this.name = "AuthError";
  }
}

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function typeOf(resource) {
  return resource && (resource.type || resource["@type"]);
}

// A language map as the spec gives it, or null: text stays data and is only ever set as textContent.
function languageMap(value) {
  return value && typeof value === "object" && !Array.isArray(value) ? value : null;
}

// The probe services of a resource (info.json or a manifest's resource), each with its access services
// and their token and logout services; only http(s) URLs are kept (Auth 2.0 "2.1 Declaring Services").
export function authServices(resource) {
  const probes = [];
  for (const probe of asList(resource && resource.service)) {
    if (typeOf(probe) !== "AuthProbeService2") continue;
    const probeId = webUrl(probe.id, document.baseURI);
    if (!probeId) continue;
    const access = [];
    for (const service of asList(probe.service)) {
      if (typeOf(service) !== "AuthAccessService2" || !PROFILE_ORDER.includes(service.profile)) continue;
      const children = asList(service.service);
      const tokenService = children.find((child) => typeOf(child) === "AuthAccessTokenService2");
      const logoutService = children.find((child) => typeOf(child) === "AuthLogoutService2");
      const tokenId = tokenService && webUrl(tokenService.id, document.baseURI);
      // external needs no id; an access service without a token service cannot complete the flow.
      const id = service.profile === "external" ? null : webUrl(service.id, document.baseURI);
      if (!tokenId || (service.profile !== "external" && !id)) continue;
      const logoutId = logoutService && webUrl(logoutService.id, document.baseURI);
      access.push({
        id,
        profile: service.profile,
        label: languageMap(service.label),
        heading: languageMap(service.heading),
        note: languageMap(service.note),
        confirmLabel: languageMap(service.confirmLabel),
        token: { id: tokenId, errorHeading: languageMap(tokenService.errorHeading),
          errorNote: languageMap(tokenService.errorNote) },
        logout: logoutId ? { id: logoutId, label: languageMap(logoutService.label) } : null,
      });
    }
    access.sort((a, b) => PROFILE_ORDER.indexOf(a.profile) - PROFILE_ORDER.indexOf(b.profile));
    probes.push({ id: probeId, errorHeading: languageMap(probe.errorHeading), errorNote: languageMap(probe.errorNote),
      access });
  }
  return probes;
}

// What an image resource named by a probe result (a substitute or a location) opens as in the viewer:
// an image service's info.json, or a plain image. Null for anything else (video, a javascript: URL).
export function imageSource(resource) {
  if (!resource || typeof resource !== "object") return null;
  const type = typeOf(resource);
  const id = webUrl(resource.id || resource["@id"], document.baseURI);
  if (IMAGE_SERVICE_TYPES.includes(type)) return id ? { infoUrl: `${id.replace(/\/$/, "")}/info.json` } : null;
  if (type !== "Image") return null;
  const service = asList(resource.service).find((item) => IMAGE_SERVICE_TYPES.includes(typeOf(item)));
  if (service) return imageSource(service);
  return id ? { imageUrl: id } : null;
}

// Tokens by token service, shared by every viewer of the page: a reader logs in once per page.
const tokens = new Map();
// Token services already asked without an interaction (a reader who logged in earlier, in another
// tab or before a reload, is recognised without a click); asked again only after a login.
const askedQuietly = new Set();

function tokenFor(tokenServiceId) {
  const held = tokens.get(tokenServiceId);
  if (held && held.expiresAt > Date.now()) return held.accessToken;
  tokens.delete(tokenServiceId);
  return null;
}

export function holdsToken(probe) {
  return probe.access.some((access) => tokenFor(access.token.id) !== null);
}

// Auth 2.0 "5. Probe Service": the probe's own answer is always 200; its status is the image's.
export async function probe(probeService, accessToken = null) {
  const headers = { Accept: "application/ld+json, application/json" };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  const response = await fetch(probeService.id, { headers, credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new AuthError(`probe ${probeService.id} answered ${response.status}`);
  const result = await response.json();
  if (typeOf(result) !== "AuthProbeResult2" || !Number.isInteger(result.status)) {
    throw new AuthError(`probe ${probeService.id} did not answer an AuthProbeResult2`);
  }
  return result;
}

function randomMessageId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// Auth 2.0 "4.2 Access Token Service Request": the token service opened in a hidden frame answers by
// postMessage. Only a message from that frame, from the token service's origin, with our messageId counts.
export function requestToken(tokenService) {
  const messageId = randomMessageId();
  const url = new URL(tokenService.id);
  url.searchParams.set("messageId", messageId);
  url.searchParams.set("origin", window.location.origin);
  const frame = document.createElement("iframe");
  frame.hidden = true;
  frame.className = "iv-token-frame";
  frame.setAttribute("aria-hidden", "true");
  frame.title = "IIIF access token";
  return new Promise((resolve, reject) => {
    const finish = (settle, value) => {
      window.removeEventListener("message", receive);
      clearTimeout(timer);
      frame.remove();
      settle(value);
    };
    const receive = (event) => {
      if (event.source !== frame.contentWindow || event.origin !== url.origin) return;
      const data = event.data;
      if (!data || typeof data !== "object" || data.messageId !== messageId) return;
      if (typeOf(data) === "AuthAccessToken2" && typeof data.accessToken === "string" && data.accessToken) {
        const seconds = Number.isInteger(data.expiresIn) && data.expiresIn > 0 ? data.expiresIn : 3600;
        tokens.set(tokenService.id, { accessToken: data.accessToken, expiresAt: Date.now() + seconds * 1000 });
        finish(resolve, { accessToken: data.accessToken });
      } else if (typeOf(data) === "AuthAccessTokenError2") {
        finish(resolve, { error: String(data.profile || "unavailable"), heading: languageMap(data.heading),
          note: languageMap(data.note) });
      }
    };
    const timer = setTimeout(() => finish(reject, new AuthError(`token service ${tokenService.id} did not answer`)),
      TOKEN_TIMEOUT_MS);
    window.addEventListener("message", receive);
    frame.src = url.href;
    document.body.append(frame);
  });
}

// Auth 2.0 "3.2 Client Interaction with Access Services": the access service in a window of its own,
// with our origin; resolves when the reader (or the page itself) closes it. Must be called in the click
// handler (a user gesture), else the browser blocks the window: then this rejects at once.
export function openAccessWindow(accessService) {
  const url = new URL(accessService.id);
  url.searchParams.set("origin", window.location.origin);
  const opened = window.open(url.href, "_blank");
  if (!opened) return Promise.reject(new AuthError("the browser blocked the login window"));
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!opened.closed) return;
      clearInterval(timer);
      resolve();
    }, WINDOW_POLL_MS);
  });
}

// Auth 2.0 "6.2 Logout Interaction": the logout service in a window with an address bar, and the
// tokens from that access service forgotten (and not fetched again quietly while the window works).
export function openLogoutWindow(accessService) {
  tokens.delete(accessService.token.id);
  askedQuietly.add(accessService.token.id);
  window.open(accessService.logout.id, "_blank");
}

// Auth 2.0 "7.1 Authorization Flow Algorithm" up to the point where the reader must act: the probe with
// each token held, then each access service's token service once without a click (external ones as the
// spec says; kiosk and active ones for a terminal recognised by its address or a reader who has the
// cookie already: no window opens without the reader's click). Resolves to the probe result (status
// 200 means the image may be shown) and the access service that needs the reader, if any.
export async function checkAccess(probeService) {
  const attempt = async (access) => {
    const token = tokenFor(access.token.id);
    return token ? probe(probeService, token) : null;
  };
  let result = null;
  for (const access of probeService.access) {
    result = (await attempt(access)) || result;
    if (result && result.status === 200) return { result, access };
  }
  result ||= await probe(probeService);
  if (result.status === 200 || isRedirect(result)) return { result, access: null };
  let tokenError = null;
  for (const access of probeService.access) {
    if (tokenFor(access.token.id) || askedQuietly.has(access.token.id)) continue;
    askedQuietly.add(access.token.id);
    // A token service that does not answer in time leaves the reader where a refusal would: at the button.
    const answer = await requestToken(access.token).catch(() => ({ error: "unavailable", heading: null, note: null }));
    if (answer.error) {
      tokenError = access.profile === "external" ? answer : tokenError;
      continue;
    }
    result = await probe(probeService, answer.accessToken);
    if (result.status === 200 || isRedirect(result)) return { result, access };
  }
  const interactive = probeService.access.find((access) => access.profile !== "external") || null;
  return { result, access: interactive, tokenError };
}

// After the reader has acted (the access window closed): a token, then the probe again.
export async function completeLogin(probeService, access) {
  askedQuietly.delete(access.token.id);
  const answer = await requestToken(access.token);
  if (answer.error) return { result: null, access, tokenError: answer };
  return { result: await probe(probeService, answer.accessToken), access, tokenError: null };
}

export function isRedirect(result) {
  return result.status >= 300 && result.status < 400 && imageSource(result.location) !== null;
}
