# The README's demo on Debian 12, replayed step by step: the same install functions and commands.
FROM debian:12

ENV DEBIAN_FRONTEND=noninteractive
# What the README assumes a fresh machine has: Python 3.11 (Debian 12's python3), Node with npm.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/iiif-archive
COPY scripts/install.sh scripts/install.sh
RUN bash -c 'source scripts/install.sh && install_debian_packages && rm -rf /var/lib/apt/lists/*'

COPY . .
RUN bash -c 'source scripts/install.sh && install_python_env && install_viewer_assets'
# Drawn at build time so that a container answers within seconds of starting.
RUN .venv/bin/iiif-archive samples --out demo-data/images --with-basemap --cache-dir demo-data/downloads

# Inside a container the server must listen on every interface; the manifests still name the URL
# a browser on the host uses (docker run -p 8000:8000).
ENV DEMO_HOST=0.0.0.0 DEMO_PORT=8000 DEMO_BASE_URL=http://127.0.0.1:8000
EXPOSE 8000
CMD ["bash", "scripts/demo.sh"]
