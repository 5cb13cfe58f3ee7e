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
    restricted: "Tài liệu hạn chế",
    restrictedNote: "Bạn cần đăng nhập để xem toàn bộ tài liệu này.",
    logIn: "Đăng nhập",
    logOut: "Đăng xuất",
    loginWaiting: "Hãy đăng nhập trong cửa sổ vừa mở; trình xem sẽ tiếp tục khi cửa sổ đóng.",
    loginFailed: "Không đăng nhập được",
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
    restricted: "Restricted record",
    restrictedNote: "Log in to see the whole of this record.",
    logIn: "Log in",
    logOut: "Log out",
    loginWaiting: "Log in in the window that has opened; the viewer goes on when it closes.",
    loginFailed: "Could not log in",
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
