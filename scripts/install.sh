# Install steps shared by scripts/demo.sh, scripts/test.sh and the Dockerfile (sourced, not run).
# Every step is idempotent: a second run costs a few seconds.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

# Debian 12 packages. libvips42 is the libvips this project runs on (it has OpenJPEG, so JPEG 2000
# masters work; pyvips-binary has not); fonts give the sample documents Vietnamese text; chromium
# drives the viewer tests; libmagic1 is needed by the IIIF validator.
DEBIAN_PACKAGES=(
  libvips42 libvips-tools
  libturbojpeg0  # lossless crops of stored JPEG tiles (pyturbojpeg binds it)
  fonts-noto-core fonts-dejavu-core
  libmagic1
  chromium
  nginx  # in front of several servers: `iiif-archive deploy nginx`, tests/web/test_fleet.py
  iipimage-server lighttpd wrk  # the benchmark against IIPImage (bash scripts/bench.sh; tests/test_bench_run.py)
  tesseract-ocr tesseract-ocr-vie  # OCR's Vietnamese model (manifests/ocr.py; tesserocr's wheel reads it)
)

install_debian_packages() {
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

install_python_env() {
  if [[ ! -x "$REPO_ROOT/.venv/bin/python" ]]; then
    "$PYTHON" -m venv "$REPO_ROOT/.venv"
  fi
  # The editable install follows code changes by itself: only a changed lock file (new versions) or
  # pyproject.toml (entry points, package data) needs pip again.
  local installed="$REPO_ROOT/.venv/.installed-lock"
  if cat "$REPO_ROOT/requirements.lock" "$REPO_ROOT/pyproject.toml" | cmp -s - "$installed"; then return; fi
  # Exactly the versions the tests passed with, each checked against its hash (bash scripts/lock.sh
  # writes the lock; it leaves out pyvips-binary: pyvips must bind Debian's libvips42).
  "$REPO_ROOT/.venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$REPO_ROOT/requirements.lock"
  "$REPO_ROOT/.venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$REPO_ROOT"
  cat "$REPO_ROOT/requirements.lock" "$REPO_ROOT/pyproject.toml" > "$installed"
}

# The IIIF Image API validator pins its own Pillow, so it lives in a virtual environment of its own.
install_validator_env() {
  if [[ ! -x "$REPO_ROOT/.venv-validator/bin/iiif-validate.py" ]]; then
    "$PYTHON" -m venv "$REPO_ROOT/.venv-validator"
    "$REPO_ROOT/.venv-validator/bin/pip" install -q --disable-pip-version-check iiif-validator==1.0.5
  fi
}

install_viewer_assets() {
  local viewer="$REPO_ROOT/viewer"
  # npm ci empties node_modules first; npm's own record of the tree, newer than the lock file, means it is current.
  if [[ -f "$viewer/package.json" && ! "$viewer/node_modules/.package-lock.json" -nt "$viewer/package-lock.json" ]]; then
    (cd "$viewer" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
