# Reverse-engineered from the image's build history and config. It describes the
# image step by step but does not rebuild it as is: ADD and COPY name content
# hashes or build-context paths, and RUN mounts and secrets are not recorded.
FROM scratch

# layer 1: 31.37MB
ADD file:5d673d25da3a14ce1f6cf66e4c7fd4f4b85a3759a9d93efb3fd9ff852b5b56e4 /
CMD ["bash"]
LABEL maintainer="NGINX Docker Maintainers <docker-maint@nginx.com>"
ENV NGINX_VERSION=1.21.6
ENV NJS_VERSION=0.7.3
ENV PKG_RELEASE=1~bullseye

# layer 2: 25.35MB
RUN set -x \
    && addgroup --system --gid 101 nginx \
    && adduser --system --disabled-login --ingroup nginx --no-create-home --home /nonexistent --gecos "nginx user" --shell /bin/false --uid 101 nginx \
    && apt-get update \
    && apt-get install --no-install-recommends --no-install-suggests -y gnupg1 ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# layer 3: 602B
COPY file:65504f71f5855ca017fb64d502ce873a31b2e0decd75297a8fb0a287f97acf92 /

# layer 4: 894B
COPY file:0b866ff3fc1ef5b03c4e6c8c513ae014f691fb05d530257dfffd07035c1b75da /docker-entrypoint.d
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]

# From the image config: the history does not set these.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
