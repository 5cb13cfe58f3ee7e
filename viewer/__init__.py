"""Deep-zoom viewer: embed page, deep links, exhibition pages and Mirador, served under /viewer/."""
