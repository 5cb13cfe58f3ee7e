// /viewer/mirador?manifest=URL (a manifest or a collection) with Mirador 4, in Vietnamese or English.

const params = new URLSearchParams(window.location.search);
const resource = params.get("manifest") || params.get("collection");
const language = params.get("lang") === "en" ? "en" : "vi";
document.documentElement.lang = language;

window.Mirador.viewer({
  id: "mirador",
  language,
  availableLanguages: { vi: "Tiếng Việt", en: "English" },
  windows: resource ? [{ manifestId: resource, maximized: true }] : [],
  catalog: resource ? [{ manifestId: resource }] : [],
  window: { allowClose: false, defaultSideBarPanel: "info", sideBarOpenByDefault: false },
  workspaceControlPanel: { enabled: !resource },
});
