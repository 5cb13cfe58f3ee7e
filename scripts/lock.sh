#!/usr/bin/env bash
# The README's lock command: resolves pyproject.toml's dependencies (runtime and the test extra) to
# exact versions with hashes in requirements.lock, which scripts/install.sh installs. Run it after
# every change to the dependencies in pyproject.toml and commit both files together.
# uv does the resolving; it lives in .venv-lock/, apart from the project's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
UV_VERSION=0.13.9
if [[ ! -x .venv-lock/bin/uv ]] || [[ "$(.venv-lock/bin/uv --version)" != "uv $UV_VERSION"* ]]; then
  "$PYTHON" -m venv .venv-lock
  .venv-lock/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
# Linux x86-64, CPython 3.11: the machines scripts/install.sh runs on (Debian 12, the Dockerfile).
# pyvips-binary must never come in: pyvips binds Debian's libvips42 (README "Which libvips").
.venv-lock/bin/uv pip compile pyproject.toml --extra test --generate-hashes \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --no-emit-package pyvips-binary \
  --custom-compile-command "bash scripts/lock.sh" --quiet \
  -o requirements.lock
