#!/usr/bin/env bash
# The README's benchmark command: our server against IIPImage (iipsrv) on this machine, same requests,
# same image folder, same number of worker processes. Installs what it needs (Debian's
# iipimage-server, lighttpd as its FastCGI front, wrk as the load generator; the project's .venv),
# generates the masters once under bench/cache/, runs for about 12 minutes and writes
# bench/results/latest.md. Options pass through to `python -m bench.run` (see --help).
# Not part of the tests. Run as root on Debian 12, like scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
install_debian_packages
install_python_env
# exec: signals reach the runner itself, whose handlers stop every server it started, by PID.
exec .venv/bin/python -m bench.run "$@"
