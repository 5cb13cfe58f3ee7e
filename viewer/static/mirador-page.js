// /viewer/mirador?manifest=URL (a manifest or a collection) with Mirador 3, in Vietnamese or English.

const params = new URLSearchParams(window.location.search);
const resource = params.get("manifest") || params.get("collection");
const language = params.get("lang") === "en" ? "en" : "vi";
document.documentElement.lang = language;

// Mirador 3.4's collection dialog calls getValue() on a collection's requiredStatement even when there
// is none, and fails; an empty one (which it filters out unseen) lets it list the collection's items.
function withEmptyRequiredStatement(url, action) {
  const json = action.manifestJson;
  if (json && json.type === "Collection" && !json.requiredStatement) {
    return { ...action, manifestJson: { ...json, requiredStatement: { label: { none: [""] }, value: { none: [""] } } } };
  }
  return action;
}

window.Mirador.viewer({
  id: "mirador",
  language,
  availableLanguages: { vi: "Tiếng Việt", en: "English" },
  requests: { postprocessors: [withEmptyRequiredStatement] },
  windows: resource ? [{ manifestId: resource }] : [],
  catalog: resource ? [{ manifestId: resource }] : [],
  window: { allowClose: false, defaultSideBarPanel: "info", sideBarOpenByDefault: false },
  workspaceControlPanel: { enabled: !resource },
});
