# Reverse-engineered from the image's build history and config. It describes the
# image step by step but does not rebuild it as is: ADD and COPY name content
# hashes or build-context paths, and RUN mounts and secrets are not recorded.
FROM scratch

# layer 1: 120.3MB
# debootstrap --variant=minbase --include=python3 bookworm

# layer 2: 6.656kB
# build.sh: COPY app /app
# build.sh: config

# From the image config: the history does not set these.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV PYTHONUNBUFFERED=1
LABEL io.slimtrace.fixture=python-app
LABEL org.opencontainers.image.description="slimtrace fixture: stdlib http.server app"
LABEL org.opencontainers.image.title=python-app
EXPOSE 8000/tcp
WORKDIR /app
CMD ["python3", "/app/server.py"]
