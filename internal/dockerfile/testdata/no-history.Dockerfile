# Reverse-engineered from the image's build history and config. It describes the
# image step by step but does not rebuild it as is: ADD and COPY name content
# hashes or build-context paths, and RUN mounts and secrets are not recorded.
FROM scratch

# layer 1: 2.73MB
# comment: Imported from -
# (the history does not say how this layer was made)

# layer 2: 1.234GB
# (the history does not say how this layer was made)

# From the image config: the history does not set these.
ENV PATH=/bin
ENV MOTD="hello \$USER"
# LABEL description has a value with a line break, which a Dockerfile cannot hold
LABEL vendor="ACME Inc."
EXPOSE 53/udp 8080/tcp
VOLUME ["/home/user"]
USER 1000:1000
STOPSIGNAL SIGINT
CMD ["/bin/sh"]
