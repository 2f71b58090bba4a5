# Reverse-engineered from the image's build history and config. It describes the
# image step by step but does not rebuild it as is: ADD and COPY name content
# hashes or build-context paths, and RUN mounts and secrets are not recorded.
# Base image (label org.opencontainers.image.base.name): docker.io/library/python:3.12-slim
FROM scratch

# layer 1: 29.15MB
ADD file:b86ae1c7ca3586d8feedcd9ff1b2b1e8ab872caf6587618f1da689045a5d7ae4 /
CMD ["bash"]
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV LANG=C.UTF-8

# layer 2: 3.511MB
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends 		ca-certificates 		netbase 		tzdata 	; \
    rm -rf /var/lib/apt/lists/*
ENV GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305
ENV PYTHON_VERSION=3.12.2

# layer 3: 12.06MB
RUN set -eux; \
    savedAptMark="$(apt-mark showmanual)"; \
    wget -O python.tar.xz "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz"; \
    ./configure --enable-optimizations; \
    make -j "$(nproc)"; \
    make install
CMD ["python3"]
ARG TINI_VERSION=v0.19.0

# layer 4: 24.06kB
ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini

# layer 5: 4.322kB
RUN chmod +x /tini && useradd --system --create-home --home-dir /srv/app app
ENV PIP_NO_CACHE_DIR=1

# layer 6: 18.31MB
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# layer 7: 93B
WORKDIR /srv/app

# layer 8: 81.92kB
COPY --chown=app:app . .
LABEL org.opencontainers.image.source=https://github.com/example/app org.opencontainers.image.version=1.4.0
VOLUME ["/srv/data"]
USER app
EXPOSE 8080/tcp
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -fsS http://localhost:8080/healthz || exit 1
ENTRYPOINT ["/tini", "--"]
CMD ["gunicorn", "-b", ":8080", "app:app"]

# From the image config: the history does not set these.
LABEL org.opencontainers.image.base.name=docker.io/library/python:3.12-slim
