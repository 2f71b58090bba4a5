# Reverse-engineered from the image's build history and config. It describes the
# image step by step but does not rebuild it as is: ADD and COPY name content
# hashes or build-context paths, and RUN mounts and secrets are not recorded.
FROM scratch

# layer 1: 3.409MB
ADD file:9f4f01b7d1b1d5b3a3d1a2f1e1c9d0b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2 /
CMD ["/bin/sh"]

# The steps above made the base image, docker.io/library/alpine:3.19.

# layer 2: 1.21MB
RUN apk add --no-cache ca-certificates

# layer 3: 8.11MB
COPY file:1c2b3a4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b /usr/bin/app
ENTRYPOINT ["/usr/bin/app"]

# From the image config: the history does not set these.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD []
