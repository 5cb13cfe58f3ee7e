#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian packages, pip, npm), then runs pytest.
# Works on a fresh Debian 12 machine with Python 3.11, Node and apt, run as root; CI calls it via .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
install_debian_packages
install_python_env
install_validator_env
install_viewer_assets
echo "running pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
exit $status
