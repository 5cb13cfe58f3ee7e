// Interface text in Vietnamese (the default) and English, and the choice of a value from a IIIF language map.

export const LANGUAGES = ["vi", "en"];

export const STRINGS = {
  vi: {
    viewer: "Trình xem tài liệu",
    toolbar: "Điều khiển trình xem",
    zoomIn: "Phóng to",
    zoomOut: "Thu nhỏ",
    home: "Xem toàn trang",
    rotateLeft: "Xoay trái",
    rotateRight: "Xoay phải",
    fullScreen: "Toàn màn hình",
    previous: "Trang trước",
    next: "Trang sau",
    contents: "Mục lục",
    share: "Chia sẻ khung nhìn này",
    switchLanguage: "English",
    switchLanguageLabel: "Switch to English",
    pages: "Các trang",
    page: "Trang",
    pageOf: (index, total) => `Trang ${index} / ${total}`,
    attribution: "Ghi công",
    rights: "Quyền sử dụng",
    shareTitle: "Chia sẻ khung nhìn này",
    shareLink: "Đường dẫn",
    copy: "Sao chép đường dẫn",
    copied: "Đã sao chép đường dẫn",
    citation: "Trích dẫn",
    preview: "Ảnh xem trước vùng đang xem",
    close: "Đóng",
    region: "vùng",
    accessed: "truy cập ngày",
    loading: "Đang tải tài liệu…",
    loadFailed: "Không tải được tài liệu",
    noManifest: "Chưa có tài liệu: hãy thêm tham số manifest=",
    searchPanel: "Tìm trong tài liệu",
    searchLabel: "Tìm từ trong tài liệu này",
    search: "Tìm",
    searching: "Đang tìm…",
    previousMatch: "Kết quả trước",
    nextMatch: "Kết quả sau",
    matchOf: (index, total) => (index ? `Kết quả ${index} / ${total}` : `${total} kết quả`),
    noMatches: "Không tìm thấy",
    textLayer: "Hiện văn bản của trang",
  },
  en: {
    viewer: "Document viewer",
    toolbar: "Viewer controls",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    home: "Show the whole page",
    rotateLeft: "Rotate left",
    rotateRight: "Rotate right",
    fullScreen: "Full screen",
    previous: "Previous page",
    next: "Next page",
    contents: "Contents",
    share: "Share this view",
    switchLanguage: "Tiếng Việt",
    switchLanguageLabel: "Chuyển sang tiếng Việt",
    pages: "Pages",
    page: "Page",
    pageOf: (index, total) => `Page ${index} of ${total}`,
    attribution: "Attribution",
    rights: "Rights",
    shareTitle: "Share this view",
    shareLink: "Link",
    copy: "Copy link",
    copied: "Link copied",
    citation: "Citation",
    preview: "Preview of the region in view",
    close: "Close",
    region: "region",
    accessed: "accessed",
    loading: "Loading the document…",
    loadFailed: "The document could not be loaded",
    noManifest: "No document yet: add a manifest= parameter",
    searchPanel: "Search in the document",
    searchLabel: "Find words in this document",
    search: "Search",
    searching: "Searching…",
    previousMatch: "Previous match",
    nextMatch: "Next match",
    matchOf: (index, total) => (index ? `Match ${index} of ${total}` : `${total} matches`),
    noMatches: "No match",
    textLayer: "Show the page's text",
  },
};

export function normaliseLanguage(value) {
  return LANGUAGES.includes(value) ? value : "vi";
}

// A IIIF language map -> the text in the reader's language, else language-neutral, else any.
export function pickText(map, language) {
  if (!map) return "";
  if (typeof map === "string") return map;
  const values = map[language] || map.none || Object.values(map)[0] || [];
  return values.join(" ");
}
