// The embed page (/viewer/embed or embed.html of an export): its URL parameters become the viewer's attributes.

import "./iiif-viewer.js";

const PARAMETERS = [
  ["iiif-content", "content"],
  ["manifest", "manifest"],
  ["canvas", "canvas"],
  ["xywh", "region"],
  ["lang", "lang"],
];

const params = new URLSearchParams(window.location.search);
const viewer = document.createElement("iiif-viewer");
for (const [parameter, attribute] of PARAMETERS) {
  const value = params.get(parameter);
  if (value) viewer.setAttribute(attribute, value);
}
viewer.setAttribute("embed-url", window.location.pathname);
document.documentElement.lang = viewer.getAttribute("lang") === "en" ? "en" : "vi";
viewer.addEventListener("iiif-viewer:language", (event) => {
  const language = event.detail.language;
  document.documentElement.lang = language;
  params.set("lang", language);
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
});
document.getElementById("viewer-main").append(viewer);
