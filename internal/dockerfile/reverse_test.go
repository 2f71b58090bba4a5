package dockerfile

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/golden"
)

// testConfig is an image config written as the cases read best; testImage
// turns it into docker's.
type testConfig struct {
	Entrypoint, Cmd, Env  []string
	WorkingDir, User      string
	ExposedPorts, Volumes []string
	Labels                map[string]string
	StopSignal            string
	Healthcheck           *dockerspec.HealthcheckConfig
	OS                    string
}

// testStep is a history step with the size of the layer it made.
type testStep struct {
	CreatedBy, Comment, Author string
	EmptyLayer                 bool
	LayerSize                  int64
}

// testImage returns the image config and manifest layers Reverse reads.
func testImage(c testConfig, steps []testStep) (dockerspec.DockerOCIImage, []ocispec.Descriptor) {
	img := dockerspec.DockerOCIImage{Config: dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
		Labels: c.Labels, StopSignal: c.StopSignal},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{Healthcheck: c.Healthcheck}}}
	img.OS = c.OS
	for _, p := range c.ExposedPorts {
		if img.Config.ExposedPorts == nil {
			img.Config.ExposedPorts = map[string]struct{}{}
		}
		img.Config.ExposedPorts[p] = struct{}{}
	}
	for _, v := range c.Volumes {
		if img.Config.Volumes == nil {
			img.Config.Volumes = map[string]struct{}{}
		}
		img.Config.Volumes[v] = struct{}{}
	}
	var layers []ocispec.Descriptor
	for _, s := range steps {
		img.History = append(img.History, ocispec.History{CreatedBy: s.CreatedBy, Comment: s.Comment, Author: s.Author,
			EmptyLayer: s.EmptyLayer})
		if !s.EmptyLayer {
			layers = append(layers, ocispec.Descriptor{Size: s.LayerSize})
		}
	}
	return img, layers
}

// createdBy are created_by records as tools write them, taken from real
// images' histories. A case of several records runs them in order.
var createdBy = []struct {
	name  string
	steps []string
}{
	// docker's classic builder (docker build before BuildKit, podman/buildah).
	{"classic ADD rootfs", []string{"/bin/sh -c #(nop) ADD file:5d673d25da3a14ce1f6cf66e4c7fd4f4b85a3759a9d93efb3fd9ff852b5b56e4 in / "}},
	{"classic CMD", []string{`/bin/sh -c #(nop)  CMD ["bash"]`}},
	{"classic CMD with blanks", []string{`/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]`}},
	{"classic CMD shell form", []string{`/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "exec gunicorn -b :$PORT app:app"]`}},
	{"docker 1.x CMD", []string{`/bin/sh -c #(nop) CMD [/bin/bash]`}},
	{"classic LABEL with blanks", []string{`/bin/sh -c #(nop)  LABEL maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>`}},
	{"classic ENV", []string{`/bin/sh -c #(nop)  ENV NGINX_VERSION=1.21.6`}},
	{"classic ENV with blanks", []string{`/bin/sh -c #(nop)  ENV PHP_CFLAGS=-fstack-protector-strong -fpic -fpie -O2 -D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64`}},
	{"classic ENV several", []string{`/bin/sh -c #(nop)  ENV LANG=C.UTF-8 LC_ALL=C.UTF-8`}},
	{"legacy ENV", []string{`/bin/sh -c #(nop) ENV GOLANG_VERSION 1.9.2`}},
	{"classic RUN", []string{`/bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*`}},
	{"classic RUN long", []string{`/bin/sh -c set -x     && addgroup --system --gid 101 nginx     && adduser --system --disabled-login --ingroup nginx --no-create-home --home /nonexistent --gecos "nginx user" --shell /bin/false --uid 101 nginx     && apt-get update`}},
	{"classic RUN tabs", []string{"/bin/sh -c set -eux; \tsavedAptMark=\"$(apt-mark showmanual)\"; \tapt-get update; \tapt-get install -y --no-install-recommends \t\twget \t; \trm -rf /var/lib/apt/lists/*"}},
	{"classic COPY", []string{"/bin/sh -c #(nop) COPY file:65504f71f5855ca017fb64d502ce873a31b2e0decd75297a8fb0a287f97acf92 in / "}},
	{"classic COPY to dir", []string{"/bin/sh -c #(nop) COPY file:0b866ff3fc1ef5b03c4e6c8c513ae014f691fb05d530257dfffd07035c1b75da in /docker-entrypoint.d "}},
	{"classic COPY chown", []string{"/bin/sh -c #(nop) COPY --chown=node:node dir:3a7d1d2b54e8c1b3b1c2f2f0f5f1a1e6c9d2f7b1c0a9e8d7c6b5a4f3e2d1c0b9 in /home/node/app "}},
	{"classic ADD multi", []string{"/bin/sh -c #(nop) ADD multi:7f6b7b1a9c0b2d5e4d1a5b5b0f0ac1b7d0b0d0c4f0f6c8b4b9bb8b6d9c5a5b2a in /app/ "}},
	{"classic ENTRYPOINT", []string{`/bin/sh -c #(nop)  ENTRYPOINT ["/docker-entrypoint.sh"]`}},
	{"classic EXPOSE", []string{`/bin/sh -c #(nop)  EXPOSE 80`}},
	{"classic EXPOSE several", []string{`/bin/sh -c #(nop)  EXPOSE 3306 33060`}},
	{"docker 1.x EXPOSE map", []string{`/bin/sh -c #(nop) EXPOSE map[5432/tcp:{}]`}},
	{"classic STOPSIGNAL", []string{`/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT`}},
	{"classic VOLUME", []string{`/bin/sh -c #(nop)  VOLUME [/var/lib/mysql]`}},
	{"classic VOLUME several", []string{`/bin/sh -c #(nop)  VOLUME [/var/jenkins_home /var/log]`}},
	{"docker 1.x USER", []string{`/bin/sh -c #(nop)  USER [jenkins]`}},
	{"classic USER", []string{`/bin/sh -c #(nop)  USER 1001`}},
	{"classic WORKDIR", []string{`/bin/sh -c #(nop) WORKDIR /usr/src/app`}},
	{"classic WORKDIR relative", []string{`/bin/sh -c #(nop) WORKDIR /usr/src`, `/bin/sh -c #(nop) WORKDIR app`}},
	{"classic HEALTHCHECK", []string{`/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" '\x03'}`}},
	{"classic MAINTAINER", []string{`/bin/sh -c #(nop)  MAINTAINER Jérôme Petazzoni <jerome@docker.com>`}},
	{"classic ONBUILD", []string{`/bin/sh -c #(nop)  ONBUILD COPY . /usr/src/app`}},
	{"classic ARG and build args", []string{`/bin/sh -c #(nop)  ARG DEBIAN_FRONTEND=noninteractive`,
		`|1 DEBIAN_FRONTEND=noninteractive /bin/sh -c apt-get update && apt-get install -y tzdata`}},
	{"classic build args not declared", []string{`|2 GOSU_VERSION=1.17 TINI_VERSION=v0.19.0 /bin/sh -c curl -fsSL -o /usr/local/bin/gosu "https://example.com/gosu-$GOSU_VERSION"`}},
	{"classic SHELL then RUN", []string{`/bin/sh -c #(nop)  SHELL [/bin/bash -o pipefail -c]`,
		`/bin/bash -o pipefail -c curl -fsSL https://deb.nodesource.com/setup_18.x | bash -`,
		`/bin/bash -o pipefail -c #(nop)  CMD ["/bin/bash" "-o" "pipefail" "-c" "node server.js"]`}},
	{"classic RUN through another shell", []string{`/bin/bash -c source /opt/venv/bin/activate && pip install -r requirements.txt`}},
	{"docker commit", []string{`bash`}},
	{"windows", []string{`cmd /S /C #(nop)  ENTRYPOINT ["C:\\app\\app.exe"]`, `cmd /S /C powershell -Command Install-WindowsFeature Web-Server`}},

	// BuildKit.
	{"buildkit RUN", []string{`RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* # buildkit`}},
	{"buildkit RUN build args", []string{`RUN |2 ARG1=x ARG2=y /bin/sh -c make && make install # buildkit`}},
	{"buildkit RUN build arg with blanks", []string{`RUN |1 CFLAGS=-O2 -g /bin/sh -c ./configure && make # buildkit`}},
	{"buildkit RUN case", []string{`ARG TARGETARCH`, `RUN |1 TARGETARCH=amd64 /bin/sh -c case "$TARGETARCH" in amd64) arch=x86_64;; arm64) arch=aarch64;; esac; curl -fsSL "https://example.com/tool-${arch}.tar.gz" | tar -xz -C /usr/local/bin # buildkit`}},
	{"buildkit RUN exec form", []string{`RUN make all # buildkit`}},
	{"buildkit RUN heredoc", []string{"RUN /bin/sh -c set -e\napt-get update\napt-get install -y git\n # buildkit"}},
	{"buildkit RUN quoted separators", []string{`RUN /bin/sh -c echo "a; b && c" > /etc/motd; printf '%s\n' 'x || y' >> /etc/motd; sed -i "s/$(hostname); x/y/" /etc/hosts # buildkit`}},
	{"buildkit RUN parameter expansion", []string{`RUN /bin/sh -c export P="${PATH//; /:}"; echo "$P" > /etc/path-list; echo done with the path list here # buildkit`}},
	{"buildkit COPY", []string{`COPY . /app # buildkit`}},
	{"buildkit COPY from stage", []string{`COPY --from=builder /out/server /usr/local/bin/server # buildkit`}},
	{"buildkit COPY link chown", []string{`COPY --link --chown=65532:65532 /src/app /app # buildkit`}},
	{"buildkit ADD URL", []string{`ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini # buildkit`}},
	{"buildkit ADD rootfs", []string{`ADD alpine-minirootfs-3.19.1-x86_64.tar.gz / # buildkit`}},
	{"buildkit ENV", []string{`ENV A=b`}},
	{"buildkit ENV dollar and quotes", []string{`ENV PS1=\u@\h:\w\$  GREETING=say "hi"`}},
	{"buildkit ENV empty", []string{`ENV LD_PRELOAD=`}},
	{"buildkit EXPOSE", []string{`EXPOSE map[8080/tcp:{}]`}},
	{"buildkit EXPOSE several", []string{`EXPOSE map[443/tcp:{} 53/udp:{} 80/tcp:{}]`}},
	{"buildkit LABEL several", []string{`LABEL org.opencontainers.image.source=https://github.com/example/app org.opencontainers.image.description=A small app`}},
	{"buildkit LABEL quotes", []string{`LABEL description=The "best" app`}},
	{"buildkit USER", []string{`USER 65532:65532`}},
	{"buildkit WORKDIR", []string{`WORKDIR /app`}},
	{"buildkit ENTRYPOINT", []string{`ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]`}},
	{"buildkit CMD", []string{`CMD ["python3" "app.py"]`}},
	{"buildkit CMD empty", []string{`CMD []`}},
	{"buildkit CMD escapes", []string{`CMD ["sh" "-c" "echo \"quoted\" \\ <tag> & done"]`}},
	{"buildkit SHELL then RUN", []string{`SHELL [/bin/bash -eo pipefail -c]`, `RUN /bin/bash -eo pipefail -c curl -fsSL https://example.com/install.sh | bash # buildkit`,
		`CMD ["/bin/bash" "-eo" "pipefail" "-c" "exec ./run"]`}},
	{"buildkit STOPSIGNAL", []string{`STOPSIGNAL SIGTERM`}},
	{"buildkit VOLUME", []string{`VOLUME [/data]`}},
	{"buildkit ARG", []string{`ARG VERSION=1.2.3`}},
	{"buildkit ONBUILD", []string{`ONBUILD RUN echo building`}},
	{"buildkit HEALTHCHECK shell", []string{`HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost:8080/health || exit 1"] "30s" "5s" "10s" "0s" '\x03'}`}},
	{"buildkit HEALTHCHECK exec", []string{`HEALTHCHECK &{["CMD" "/healthcheck" "--quiet"] "1m0s" "10s" "0s" "2s" '\x05'}`}},
	{"buildkit HEALTHCHECK many retries", []string{`HEALTHCHECK &{["CMD" "true"] "0s" "0s" "0s" "0s" 'd'}`}},
	{"buildkit HEALTHCHECK NONE", []string{`HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\x00'}`}},

	// Tools that record Dockerfile text (kaniko).
	{"kaniko", []string{`RUN apt-get update`, `COPY . .`, `CMD ["node", "index.js"]`, `EXPOSE 8080`, `ENV NODE_ENV=production`,
		`HEALTHCHECK --interval=5m CMD curl -f http://localhost/`, `CMD node index.js`}},
	{"kaniko FROM", []string{`FROM node:18-alpine AS build`}},

	// Other tools: kept as comments.
	{"umoci", []string{`umoci config`}},
	{"fixture build.sh", []string{`debootstrap --variant=minbase --include=python3 bookworm`, `build.sh: COPY app /app`, `build.sh: config`}},
	{"jib", []string{`jib-maven-plugin:3.4.0`}},
	{"ko", []string{`ko build ko://github.com/example/app`}},
	{"bazel", []string{`bazel build //cmd/app:image`}},
	{"apko", []string{`apko`}},
	{"not a shell prefix before nop", []string{`echo '#(nop) CMD ["x"]'`}},
}

// TestCreatedBy reverses each record alone and writes all of them, with
// what they became, to one golden file.
func TestCreatedBy(t *testing.T) {
	var out bytes.Buffer
	for _, c := range createdBy {
		var hist []testStep
		for _, s := range c.steps {
			hist = append(hist, testStep{CreatedBy: s, EmptyLayer: true})
		}
		b, err := Reverse(testImage(testConfig{}, hist))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&out, "=== %s\n", c.name)
		for _, s := range c.steps {
			if strings.ContainsAny(s, "\n\t") {
				s = strconv.Quote(s)
			}
			fmt.Fprintf(&out, "in:  %s\n", s)
		}
		body := bytes.SplitN(b, []byte("FROM scratch\n"), 2)[1]
		body, _, _ = bytes.Cut(body, []byte("\n# From the image config"))
		for i, l := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
			if i == 0 {
				fmt.Fprintf(&out, "out: %s\n", l)
			} else {
				fmt.Fprintf(&out, "     %s\n", l)
			}
		}
		out.WriteString("\n")
	}
	golden.Check(t, "created_by.golden", out.Bytes())
}

// images are whole images: config and history as their tools wrote them.
var images = []struct {
	name    string
	cfg     testConfig
	history []testStep
}{
	{
		// testdata/images/build.sh's python-app, built with umoci.
		name: "python-app-umoci",
		cfg: testConfig{
			Cmd:          []string{"python3", "/app/server.py"},
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONUNBUFFERED=1"},
			WorkingDir:   "/app",
			ExposedPorts: []string{"8000/tcp"},
			Labels: map[string]string{"io.slimtrace.fixture": "python-app",
				"org.opencontainers.image.description": "slimtrace fixture: stdlib http.server app",
				"org.opencontainers.image.title":       "python-app"},
			OS: "linux",
		},
		history: []testStep{
			{CreatedBy: "debootstrap --variant=minbase --include=python3 bookworm", LayerSize: 120_332_800},
			{CreatedBy: "build.sh: COPY app /app", LayerSize: 6_656},
			{CreatedBy: "build.sh: config", EmptyLayer: true},
		},
	},
	{
		// nginx:1.21 as docker's classic builder recorded it.
		name: "nginx-classic",
		cfg: testConfig{
			Entrypoint:   []string{"/docker-entrypoint.sh"},
			Cmd:          []string{"nginx", "-g", "daemon off;"},
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.21.6", "NJS_VERSION=0.7.3", "PKG_RELEASE=1~bullseye"},
			ExposedPorts: []string{"80/tcp"},
			Labels:       map[string]string{"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
			StopSignal:   "SIGQUIT",
			OS:           "linux",
		},
		history: []testStep{
			{CreatedBy: "/bin/sh -c #(nop) ADD file:5d673d25da3a14ce1f6cf66e4c7fd4f4b85a3759a9d93efb3fd9ff852b5b56e4 in / ", LayerSize: 31_366_757},
			{CreatedBy: `/bin/sh -c #(nop)  CMD ["bash"]`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  LABEL maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  ENV NGINX_VERSION=1.21.6`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  ENV NJS_VERSION=0.7.3`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  ENV PKG_RELEASE=1~bullseye`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c set -x     && addgroup --system --gid 101 nginx     && adduser --system --disabled-login --ingroup nginx --no-create-home --home /nonexistent --gecos "nginx user" --shell /bin/false --uid 101 nginx     && apt-get update     && apt-get install --no-install-recommends --no-install-suggests -y gnupg1 ca-certificates     && rm -rf /var/lib/apt/lists/*`, LayerSize: 25_350_092},
			{CreatedBy: "/bin/sh -c #(nop) COPY file:65504f71f5855ca017fb64d502ce873a31b2e0decd75297a8fb0a287f97acf92 in / ", LayerSize: 602},
			{CreatedBy: "/bin/sh -c #(nop) COPY file:0b866ff3fc1ef5b03c4e6c8c513ae014f691fb05d530257dfffd07035c1b75da in /docker-entrypoint.d ", LayerSize: 894},
			{CreatedBy: `/bin/sh -c #(nop)  ENTRYPOINT ["/docker-entrypoint.sh"]`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  EXPOSE 80`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]`, EmptyLayer: true},
		},
	},
	{
		// A BuildKit multi-stage build of a Python service on a debian base.
		name: "python-buildkit",
		cfg: testConfig{
			Entrypoint:   []string{"/tini", "--"},
			Cmd:          []string{"gunicorn", "-b", ":8080", "app:app"},
			Env:          []string{"PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305", "PYTHON_VERSION=3.12.2", "PIP_NO_CACHE_DIR=1"},
			WorkingDir:   "/srv/app",
			User:         "app",
			ExposedPorts: []string{"8080/tcp"},
			Volumes:      []string{"/srv/data"},
			Labels: map[string]string{"org.opencontainers.image.source": "https://github.com/example/app",
				"org.opencontainers.image.base.name": "docker.io/library/python:3.12-slim",
				"org.opencontainers.image.version":   "1.4.0"},
			Healthcheck: &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "curl -fsS http://localhost:8080/healthz || exit 1"},
				Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3},
			OS: "linux",
		},
		history: []testStep{
			{CreatedBy: "/bin/sh -c #(nop) ADD file:b86ae1c7ca3586d8feedcd9ff1b2b1e8ab872caf6587618f1da689045a5d7ae4 in / ", LayerSize: 29_150_412},
			{CreatedBy: `/bin/sh -c #(nop)  CMD ["bash"]`, EmptyLayer: true},
			{CreatedBy: `ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ENV LANG=C.UTF-8`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: "RUN /bin/sh -c set -eux; \tapt-get update; \tapt-get install -y --no-install-recommends \t\tca-certificates \t\tnetbase \t\ttzdata \t; \trm -rf /var/lib/apt/lists/* # buildkit", LayerSize: 3_511_162, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ENV GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ENV PYTHON_VERSION=3.12.2`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `RUN /bin/sh -c set -eux; 	savedAptMark="$(apt-mark showmanual)"; wget -O python.tar.xz "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz"; ./configure --enable-optimizations; make -j "$(nproc)"; make install # buildkit`, LayerSize: 12_062_144, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `CMD ["python3"]`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ARG TINI_VERSION=v0.19.0`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini # buildkit`, LayerSize: 24_061, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `RUN |1 TINI_VERSION=v0.19.0 /bin/sh -c chmod +x /tini && useradd --system --create-home --home-dir /srv/app app # buildkit`, LayerSize: 4_322, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ENV PIP_NO_CACHE_DIR=1`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `COPY --from=build /opt/venv /opt/venv # buildkit`, LayerSize: 18_311_004, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `WORKDIR /srv/app`, LayerSize: 93, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `COPY --chown=app:app . . # buildkit`, LayerSize: 81_920, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `LABEL org.opencontainers.image.source=https://github.com/example/app org.opencontainers.image.version=1.4.0`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `VOLUME [/srv/data]`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `USER app`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `EXPOSE map[8080/tcp:{}]`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `HEALTHCHECK &{["CMD-SHELL" "curl -fsS http://localhost:8080/healthz || exit 1"] "30s" "5s" "0s" "0s" '\x03'}`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `ENTRYPOINT ["/tini" "--"]`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
			{CreatedBy: `CMD ["gunicorn" "-b" ":8080" "app:app"]`, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"},
		},
	},
	{
		// buildah notes the base on the first step it adds; ENTRYPOINT
		// after the base's CMD clears it in the image, which a
		// single-stage Dockerfile would not: the config says so.
		name: "buildah-entrypoint",
		cfg: testConfig{
			Entrypoint: []string{"/usr/bin/app"},
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			OS:         "linux",
		},
		history: []testStep{
			{CreatedBy: "/bin/sh -c #(nop) ADD file:9f4f01b7d1b1d5b3a3d1a2f1e1c9d0b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2 in / ", LayerSize: 3_408_729},
			{CreatedBy: `/bin/sh -c #(nop)  CMD ["/bin/sh"]`, EmptyLayer: true},
			{CreatedBy: `/bin/sh -c apk add --no-cache ca-certificates`, LayerSize: 1_210_331, Comment: "FROM docker.io/library/alpine:3.19"},
			{CreatedBy: "/bin/sh -c #(nop) COPY file:1c2b3a4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b in /usr/bin/app ", LayerSize: 8_110_101},
			{CreatedBy: `/bin/sh -c #(nop) ENTRYPOINT ["/usr/bin/app"]`, EmptyLayer: true},
		},
	},
	{
		// A squashed or imported image: layers without history.
		name: "no-history",
		cfg: testConfig{
			Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin", "MOTD=hello $USER"}, User: "1000:1000",
			StopSignal: "SIGINT", Volumes: []string{"/home/user"}, ExposedPorts: []string{"53/udp", "8080/tcp"},
			Labels: map[string]string{"description": "imported\nby hand", "vendor": "ACME Inc."}, OS: "linux",
		},
		history: []testStep{
			{Comment: "Imported from -", LayerSize: 2_730_000},
			{LayerSize: 1_000_000_000 + 234_000_000},
		},
	},
}

// TestReverse reverses whole images, each to its golden Dockerfile.
func TestReverse(t *testing.T) {
	for _, c := range images {
		t.Run(c.name, func(t *testing.T) {
			b, err := Reverse(testImage(c.cfg, c.history))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, c.name+".Dockerfile", b)
		})
	}
}

// TestReverseKeepsHistory checks that what the history says reaches the
// Dockerfile: every non-instruction record as a comment, every layer with
// its size.
func TestReverseKeepsHistory(t *testing.T) {
	c := images[0]
	b, err := Reverse(testImage(c.cfg, c.history))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, h := range c.history {
		if !strings.Contains(s, "# "+h.CreatedBy+"\n") {
			t.Errorf("no comment %q", h.CreatedBy)
		}
	}
	for _, w := range []string{"FROM scratch\n", "# layer 1: 120.3MB\n", "# layer 2: 6.656kB\n", `CMD ["python3", "/app/server.py"]`,
		"EXPOSE 8000/tcp\n", "WORKDIR /app\n", "LABEL io.slimtrace.fixture=python-app\n", "ENV PYTHONUNBUFFERED=1\n"} {
		if !strings.Contains(s, w) {
			t.Errorf("lacks %q:\n%s", w, s)
		}
	}
}

func TestParseList(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`["a", "b c"]`, []string{"a", "b c"}, true},
		{`["nginx" "-g" "daemon off;"]`, []string{"nginx", "-g", "daemon off;"}, true},
		{`["a\"b" "\\x"]`, []string{`a"b`, `\x`}, true},
		{`[/bin/bash -o pipefail -c]`, []string{"/bin/bash", "-o", "pipefail", "-c"}, true},
		{`[]`, []string{}, true},
		{`[ -f /x ] && run`, nil, false},
		{`[ -f /x ]`, nil, false},
		{`python app.py`, nil, false},
		{`["unterminated]`, nil, false},
	}
	for _, c := range cases {
		got, ok := parseList(c.in)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("parseList(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseHealthcheck(t *testing.T) {
	cases := []struct {
		in   string
		want *dockerspec.HealthcheckConfig
	}{
		{`&{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" '\x03'}`,
			&dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, Interval: 30 * time.Second, Timeout: 3 * time.Second, Retries: 3}},
		{`&{["CMD" "/hc" "a]b"] "1m30s" "10s" "5s" "1s" '\n'}`,
			&dockerspec.HealthcheckConfig{Test: []string{"CMD", "/hc", "a]b"}, Interval: 90 * time.Second, Timeout: 10 * time.Second, StartPeriod: 5 * time.Second, StartInterval: time.Second, Retries: 10}},
		{`&{[] "0s" "0s" "0s" "0s" '\x00'}`, &dockerspec.HealthcheckConfig{}},
		{`&{["CMD" "x"] "soon"}`, nil},
		{`&{["CMD" "x"] "1s" "1s" "1s" "1s" "1s"}`, nil},
		{`--interval=5m CMD curl -f http://localhost/`, nil},
	}
	for _, c := range cases {
		got, ok := parseHealthcheck(c.in)
		if ok != (c.want != nil) || ok && !healthEqual(got, c.want) {
			t.Errorf("parseHealthcheck(%q) = %+v, %v; want %+v", c.in, got, ok, c.want)
		}
	}
}

func TestSplitPairs(t *testing.T) {
	final := map[string]string{"JAVA_OPTS": "-Xmx1g -Dmode=fast LEVEL=3"}
	cases := []struct {
		in   string
		want []pair
	}{
		{"A=1 B=two words C=", []pair{{"A", "1"}, {"B", "two words"}, {"C", ""}}},
		{"KEY some value", []pair{{"KEY", "some value"}}},
		{"JAVA_OPTS=-Xmx1g -Dmode=fast LEVEL=3 OTHER=x", []pair{{"JAVA_OPTS", "-Xmx1g -Dmode=fast LEVEL=3"}, {"OTHER", "x"}}},
		{"JAVA_OPTS=-Xmx2g LEVEL=3", []pair{{"JAVA_OPTS", "-Xmx2g"}, {"LEVEL", "3"}}},
		{"A=x  y", []pair{{"A", "x  y"}}},
		{"", nil},
	}
	for _, c := range cases {
		if got := splitPairs(c.in, isEnvKey, final); !slices.Equal(got, c.want) {
			t.Errorf("splitPairs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := splitPairs(`"com.example.vendor"=ACME Inc. other.key=w`, isLabelKey, nil); !slices.Equal(got, []pair{{"com.example.vendor", "ACME Inc."}, {"other.key", "w"}}) {
		t.Errorf("quoted label key: %q", got)
	}
}

func TestSplitBuildArgs(t *testing.T) {
	sh := []string{"/bin/sh", "-c"}
	cases := []struct {
		in   string
		args []pair
		cmd  string
	}{
		{"|2 A=x B=y /bin/sh -c make", []pair{{"A", "x"}, {"B", "y"}}, "/bin/sh -c make"},
		{"|1 CFLAGS=-O2 -g /bin/sh -c make", []pair{{"CFLAGS", "-O2 -g"}}, "/bin/sh -c make"},
		{"|2 A=one two B=y /bin/bash -c make", []pair{{"A", "one two"}, {"B", "y"}}, "/bin/bash -c make"},
		{"|1 A=x make all", []pair{{"A", "x"}}, "make all"},
		{"|0 /bin/sh -c make", nil, "/bin/sh -c make"},
		{"|2 A=x /bin/sh -c make", nil, "|2 A=x /bin/sh -c make"},
		{"/bin/sh -c make", nil, "/bin/sh -c make"},
	}
	for _, c := range cases {
		args, cmd := splitBuildArgs(c.in, sh)
		if !slices.Equal(args, c.args) || cmd != c.cmd {
			t.Errorf("splitBuildArgs(%q) = %q, %q; want %q, %q", c.in, args, cmd, c.args, c.cmd)
		}
	}
}

// TestBreakLines checks that a broken command joins back, as the
// Dockerfile parser joins continuation lines, into the same words, and that
// no break falls inside quotes.
func TestBreakLines(t *testing.T) {
	long := strings.Repeat("x", wrapAt)
	cases := []struct {
		in     string
		breaks int
	}{
		{"a && b", 0},
		{long + " && b; c || d", 3},
		{long + ` && echo "a; b" 'c && d'; e`, 2},
		{long + `; echo "$(x "a; b")"; y`, 2},
		{long + "; echo `date; true` && echo \"`a; b`\"", 2},
		{long + `; (cd /x && make); y`, 2},
		{long + `; echo $'a\'; b'; y`, 0},
		{long + `; x=${v//; /}; y`, 2},
		{long + `; case $a in x) y;; z) w;; esac`, 3},
		{long + `; a # b; c`, 1},
		{long + `;b;c`, 0},
		{long + `; echo unterminated "a; b`, 0},
	}
	for _, c := range cases {
		got := breakLines(c.in)
		if n := strings.Count(got, "\\\n"); n != c.breaks {
			t.Errorf("breakLines(%q): %d breaks, want %d:\n%s", c.in, n, c.breaks, got)
		}
		joined := strings.ReplaceAll(got, "\\\n", "")
		if !slices.Equal(strings.Fields(joined), strings.Fields(c.in)) {
			t.Errorf("breakLines(%q) joins back to %q", c.in, joined)
		}
		for l := range strings.SplitSeq(got, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				t.Errorf("breakLines(%q): line %q reads as a Dockerfile comment", c.in, l)
			}
		}
	}
}

func TestQuoteValue(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		"":                `""`,
		"two words":       `"two words"`,
		`say "hi" $HOME`:  `"say \"hi\" \$HOME"`,
		`C:\path`:         `"C:\\path"`,
		"it's":            `"it's"`,
		"a=b,c=d;e:f/g@h": "a=b,c=d;e:f/g@h",
	} {
		if got := quoteValue(in); got != want {
			t.Errorf("quoteValue(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestEveryKeywordHasAHandler(t *testing.T) {
	for kw := range keywords {
		if handlers[kw] == nil {
			t.Errorf("no handler for %s", kw)
		}
	}
	if len(handlers) != len(keywords) {
		t.Errorf("%d handlers for %d keywords", len(handlers), len(keywords))
	}
}

// FuzzReverse checks that no record makes Reverse fail or write a line that
// is not a comment, an instruction or a continuation.
func FuzzReverse(f *testing.F) {
	for _, c := range createdBy {
		for _, s := range c.steps {
			f.Add(s, "A=1")
		}
	}
	f.Fuzz(func(t *testing.T, createdBy, env string) {
		b, err := Reverse(testImage(testConfig{Env: []string{env}, Labels: map[string]string{"k": env}, Cmd: []string{env}},
			[]testStep{{CreatedBy: createdBy}, {CreatedBy: createdBy, EmptyLayer: true}}))
		if err != nil {
			t.Fatal(err)
		}
		cont := false
		for l := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
			kw, _, _ := strings.Cut(l, " ")
			if !cont && l != "" && !strings.HasPrefix(l, "#") && !keywords[kw] {
				t.Fatalf("line %q of:\n%s", l, b)
			}
			cont = strings.HasSuffix(l, `\`) && !strings.HasPrefix(l, "#")
		}
	})
}
