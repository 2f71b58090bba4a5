#!/usr/bin/env bash
# Builds slimtrace's fixture images from Debian packages only (no registry is needed) and writes
# each one as a docker-archive tarball (what `docker save` writes):
#
#   $SLIMTRACE_CACHE/fixtures/NAME.tar    image slimtrace-fixtures/NAME:latest
#   $SLIMTRACE_CACHE/fixtures/NAME.key    cache key of the tarball beside it
#
# usage: testdata/images/build.sh [-f] NAME...    (-f rebuilds even when the key matches)
#
# The apps themselves live in testdata/apps/NAME/. Most images start from one of two cached base
# layouts (fixtures/base/): a debootstrap minbase, and that plus python3. Packages an image needs
# on top are installed by apt in a chroot of its base and committed as one layer (umoci repack
# records what changed); the app's files follow as a layer of their own. Downloaded .debs are kept
# in fixtures/debs/, apt's lists in fixtures/apt-lists/, npm tarballs in fixtures/npm/.
#
# An image's key hashes the code that builds it (every function here but the other images'
# build_* ones), its base's key, its app's files (not probes.json, expect.json or probes/) and the
# host tools whose output goes in; an image is rebuilt only when its key changes. Rebuilt on the
# same base with the same package versions, package and app layers come out byte for byte the
# same, but for java-app's package layer (keytool dates the cacerts keystore); the debootstrap
# base layer does not.
# Needs root, umoci, skopeo, debootstrap, jq and busybox-static; go-static needs Go, express curl
# and java-app javac (`make deps`). Progress goes to stderr.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
apps=$(cd "$here/../apps" && pwd)
cache=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
outdir=$cache/fixtures
suite=bookworm
all_images=(busybox-httpd busybox-cgi python-app go-static flask-static express nginx-static ruby-app php-app
	java-app elixir-app cli-yq nonroot-app redis-db redis-app django-app)
# Timestamp for our own files and the image configs, so rebuilding gives the same image.
epoch=1704067200
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
default_path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cleanup=()
trap 'remove "${cleanup[@]}"' EXIT

log() { echo "fixtures: $*" >&2; }

die() {
	log "$*"
	exit 1
}

usage() {
	echo "usage: $0 [-f] NAME...   (names: ${all_images[*]})" >&2
	exit 2
}

sha() { sha256sum | cut -d' ' -f1; }

need() {
	command -v "$1" >/dev/null || die "$1 not found; run 'make deps'"
}

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || die "package $1 is not installed; run 'make deps'"; }

# debian_mirror prints the first archive URI configured for $suite in apt's sources
# (deb822 .sources files, then one-line .list files); DEBIAN_MIRROR overrides it.
debian_mirror() {
	local uri
	if [[ -n ${DEBIAN_MIRROR:-} ]]; then
		echo "$DEBIAN_MIRROR"
		return
	fi
	uri=$(awk -v suite="$suite" '
		BEGIN { RS = ""; FS = "\n" }
		{
			uris = ""; ok = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uris = u[2] }
				if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " suite " ")) ok = 1
			}
			if (ok && uris != "") { print uris; exit }
		}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [[ -z $uri ]]; then
		uri=$(awk -v suite="$suite" '$1 == "deb" && $0 ~ (" " suite " ") {
				for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit }
			}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

# code_key FUNCTION...: hash of the settings above and the named functions' code.
code_key() {
	{
		echo "$suite $epoch $default_path"
		declare -f "$@"
	} | sha
}

# helpers_key: code_key of every function but the build_* ones: what an image's build may call.
helpers_key() {
	local f fns=()
	for f in $(compgen -A function | LC_ALL=C sort); do
		[[ $f == build_* || $f == main ]] || fns+=("$f")
	done
	code_key "${fns[@]}"
}

# app_files_key NAME: hash of testdata/apps/NAME/ (paths, modes, contents) without what only the
# probes read: probes.json, expect.json and probes/.
app_files_key() {
	(
		cd "$apps/$1"
		find . -type f ! -path ./probes.json ! -path ./expect.json ! -path './probes/*' -printf '%p %m\n' |
			LC_ALL=C sort
		find . -type f ! -path ./probes.json ! -path ./expect.json ! -path './probes/*' -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum
	) | sha
}

# image_base NAME: the cached base layout an image starts from (none, minbase or python).
image_base() {
	case $1 in
	busybox-httpd | busybox-cgi) echo none ;;
	python-app | flask-static | cli-yq | nonroot-app | redis-app | django-app) echo python ;;
	*) echo minbase ;;
	esac
}

# image_key NAME: what the image's tarball depends on (see the top of this file).
image_key() {
	local name=$1 base
	base=$(image_base "$name")
	{
		helpers_key
		code_key "build_${name//-/_}"
		app_files_key "$name"
		[[ $base == none ]] || base_key "$base"
		case $name in
		busybox-httpd | busybox-cgi) echo "busybox-static $(pkg_version busybox-static)" ;;
		go-static) need go && go version ;;
		java-app) need javac && javac -version 2>&1 ;;
		esac
	} | sha
}

# remove DIR...: rm -rf, after lazily unmounting anything (e.g. a failed debootstrap's /proc)
# mounted below each DIR.
remove() {
	local d m
	for d in "$@"; do
		[[ -n $d && -e $d ]] || continue
		awk -v p="$d/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" || true; done
		rm -rf --one-file-system "$d"
	done
}

# new_layout DIR: an OCI layout at DIR with an empty image tagged latest.
new_layout() {
	umoci init --layout "$1"
	umoci new --image "$1:latest"
}

# add_layer LAYOUT DIR CREATED_BY [TAR-OPTION...]: appends DIR's contents as a layer. Entries are
# sorted and named without "./"; owners are numeric, xattrs (file capabilities) kept.
# (umoci insert would be simpler, but 0.4.7 writes layers without the tar trailer.)
add_layer() {
	local layout=$1 dir=$2 created_by=$3 tar=$1.layer.tar
	shift 3
	(cd "$dir" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
		tar --create --file "$tar" --no-recursion --numeric-owner --xattrs --xattrs-include='*' \
			--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
			"$@" --null --files-from -)
	umoci raw add-layer --image "$layout:latest" --history.created "$created" \
		--history.created_by "$created_by" "$tar"
	rm -f "$tar"
}

# own_files: tar options for layers of our own files: root-owned, fixed mtime (reproducible).
own_files=(--owner=0 --group=0 --mtime="@$epoch")

# copy_app SRC DEST: copies our files (a directory's contents, or files) to DEST, readable by all.
copy_app() {
	local dest=${*: -1}
	mkdir -p "$dest"
	cp -a "${@:1:$#-1}" "$dest/"
	chmod -R u=rwX,go=rX "$dest"
}

# strip_rootfs ROOT: removes what a container does not need: apt's lists and caches, docs
# (copyright files kept), man pages, locales, logs, backups dpkg and debconf leave.
strip_rootfs() {
	local r=$1
	if awk -v p="$r/" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		die "something is still mounted below $r"
	fi
	rm -rf --one-file-system "${r:?}"/dev/* "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* \
		"$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/var/cache/ldconfig/aux-cache \
		"$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian
	find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
	find "$r/var/log" -type f -delete
}

# chroot_open LAYOUT: unpacks LAYOUT:latest into the bundle LAYOUT.bundle, whose rootfs is $root,
# for chroot_run and chroot_commit.
chroot_open() {
	bundle=$1.bundle
	root=$bundle/rootfs
	cleanup+=("$bundle")
	umoci unpack --image "$1:latest" "$bundle"
	touch "$bundle/opened"
}

# chroot_run SCRIPT: runs SCRIPT with sh -e in $root, in a mount namespace of its own holding
# /dev, /proc, the .deb cache at /var/cache/apt/archives and apt's lists; packages cannot start
# daemons (policy-rc.d). Its output goes to fixtures/chroot.log (the last step's), shown when it
# fails.
chroot_run() {
	local script=$1 log=$outdir/chroot.log v
	local env=(PATH="${default_path#PATH=}" HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
	for v in http_proxy https_proxy no_proxy; do
		[[ -z ${!v:-} ]] || env+=("$v=${!v}")
	done
	mkdir -p "$outdir/debs/partial" "$outdir/apt-lists/partial" \
		"$root/var/cache/apt/archives" "$root/var/lib/apt/lists"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2016 # the inner shell expands these
	unshare --mount --propagation private -- sh -euc '
		r=$1 debs=$2 lists=$3 script=$4
		shift 4
		mount --bind /dev "$r/dev"
		mount -t proc proc "$r/proc"
		mount --bind "$debs" "$r/var/cache/apt/archives"
		mount --bind "$lists" "$r/var/lib/apt/lists"
		exec chroot "$r" /usr/bin/env -i "$@" /bin/sh -euc "$script"
	' sh "$root" "$outdir/debs" "$outdir/apt-lists" "$script" "${env[@]}" >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "chroot step failed; log: $log"
	}
	rm -f "$root/etc/resolv.conf" "$root/usr/sbin/policy-rc.d"
}

# apt_install PKG...: a chroot_run script installing the packages (no recommends) from $suite.
apt_install() {
	local apt="apt-get -qq -o APT::Sandbox::User=root -o Acquire::Languages=none -o Acquire::Retries=3"
	echo "$apt update && $apt -y --no-install-recommends install $*"
}

# clamp_mtimes ROOT STAMP: gives the files under ROOT modified after STAMP was made the fixed
# mtime. Files unpacked from packages keep theirs (pyc files record their sources'); the files
# made by the build (dpkg's database, caches, configs written by scripts) are the ones whose
# mtimes would differ from one build to the next.
clamp_mtimes() {
	find "$1" -newer "$2" -exec touch --no-dereference --date="@$epoch" {} +
}

# chroot_commit LAYOUT CREATED_BY: strips $root, clamps the mtimes of what changed since
# chroot_open, and appends the changes (whiteouts for removed files) to LAYOUT as one layer.
chroot_commit() {
	strip_rootfs "$root"
	clamp_mtimes "$root" "$bundle/opened"
	umoci repack --image "$1:latest" --history.created "$created" --history.created_by "$2" "$bundle"
	remove "$bundle"
}

# apt_layer LAYOUT PKG...: one layer installing the packages.
apt_layer() {
	local layout=$1
	shift
	chroot_open "$layout"
	chroot_run "$(apt_install "$@")"
	chroot_commit "$layout" "apt-get install $*"
}

# configure LAYOUT UMOCI-CONFIG-OPTION...: sets LAYOUT:latest's config at the fixed time.
configure() {
	local layout=$1
	shift
	umoci config --image "$layout:latest" --created "$created" --history.created "$created" \
		--history.created_by "build.sh: config" "$@"
}

# edit_config LAYOUT JQ-FILTER: rewrites LAYOUT:latest's image config with jq, for what umoci
# cannot set (Docker's Healthcheck); the manifest and the index follow the new digest.
edit_config() {
	local layout=$1 filter=$2 blobs=$1/blobs/sha256 m c tmp=$1/.edit.tmp
	m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "latest")
		| .digest | ltrimstr("sha256:")' "$layout/index.json")
	c=$(jq -r '.config.digest | ltrimstr("sha256:")' "$blobs/$m")
	jq -c "$filter" "$blobs/$c" >"$tmp"
	c=$(sha <"$tmp")
	mv "$tmp" "$blobs/$c"
	jq -c --arg d "sha256:$c" --argjson n "$(stat -c %s "$blobs/$c")" \
		'.config.digest = $d | .config.size = $n' "$blobs/$m" >"$tmp"
	m=$(sha <"$tmp")
	mv "$tmp" "$blobs/$m"
	jq -c --arg d "sha256:$m" --argjson n "$(stat -c %s "$blobs/$m")" \
		'(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "latest"))
		|= (.digest = $d | .size = $n)' "$layout/index.json" >"$tmp"
	mv "$tmp" "$layout/index.json"
}

# npm_ci LOCKFILE DEST: installs the packages a package-lock.json (v2/v3) pins into
# DEST/node_modules as npm ci --omit=dev would, without npm: each tarball fetched from its
# "resolved" URL (cached in fixtures/npm/), checked against its "integrity" and unpacked at its
# path, then the bins linked in .bin/. Install scripts are refused (none in our lock).
npm_ci() {
	local lock=$1 dest=$2 store=$outdir/npm path url integrity file name target
	need curl
	jq -e '[.packages[] | select(.hasInstallScript)] | length == 0' "$lock" >/dev/null ||
		die "$lock: packages with install scripts need npm itself"
	mkdir -p "$store"
	jq -r '.packages | to_entries[] | select(.key != "" and (.value.dev | not))
		| [.key, .value.resolved, .value.integrity] | @tsv' "$lock" |
		while IFS=$'\t' read -r path url integrity; do
			[[ $integrity == sha512-* && $url == https://* ]] || die "$lock: $path: want an https URL and a sha512 integrity"
			file=$store/$(printf '%s' "$integrity" | sha).tgz
			if [[ ! -f $file ]]; then
				curl -fsSL --retry 3 -o "$file.tmp" "$url" || die "fetching $url failed"
				mv "$file.tmp" "$file"
			fi
			[[ $(sha512sum <"$file" | cut -d' ' -f1) == $(base64 -d <<<"${integrity#sha512-}" | od -An -vtx1 | tr -d ' \n') ]] ||
				{ rm -f "$file"; die "$url: integrity mismatch"; }
			mkdir -p "$dest/$path"
			tar -xzf "$file" -C "$dest/$path" --strip-components=1 --no-same-owner --no-same-permissions
		done
	jq -r '.packages | to_entries[] | select(.key != "" and (.value.dev | not) and .value.bin)
		| .key as $p | .value.bin | to_entries[] | [$p, .key, .value] | @tsv' "$lock" |
		while IFS=$'\t' read -r path name target; do
			mkdir -p "$dest/${path%/*}/.bin"
			ln -sfn "../${path##*/}/${target#./}" "$dest/${path%/*}/.bin/$name"
			chmod +x "$dest/$path/${target#./}"
		done
}

# Base layouts, cached in fixtures/base/NAME-$suite with a .key beside each.
base_dir() { echo "$outdir/base/$1-$suite"; }

# base_key NAME: what a base layout depends on: the code that builds it, the mirror and the
# architecture (not the package versions: delete fixtures/base/ to pick up new ones).
base_key() {
	case $1 in
	minbase)
		echo "$(code_key build_base_minbase strip_rootfs clamp_mtimes new_layout add_layer) $(debian_mirror)" \
			"$(dpkg --print-architecture)" | sha
		;;
	python)
		echo "$(base_key minbase) $(code_key build_base_python apt_layer apt_install chroot_open \
			chroot_run chroot_commit strip_rootfs clamp_mtimes)" | sha
		;;
	esac
}

# build_base_minbase DIR: debootstrap --variant=minbase, stripped, as one layer.
build_base_minbase() {
	local dir=$1 r=$1.rootfs mirror log
	mirror=$(debian_mirror)
	log=$(base_dir minbase).debootstrap.log
	need debootstrap
	cleanup+=("$r" "$r.started")
	mkdir -p "$outdir/debs"
	touch "$r.started"
	log "base minbase: debootstrap $suite from $mirror (debs cached in $outdir/debs)"
	debootstrap --variant=minbase --cache-dir="$outdir/debs" "$suite" "$r" "$mirror" \
		>"$log" 2>&1 || {
		tail -n 30 "$log" >&2
		die "debootstrap failed; log: $log"
	}
	# Host files debootstrap copies in.
	rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
	strip_rootfs "$r"
	clamp_mtimes "$r" "$r.started"
	new_layout "$dir"
	add_layer "$dir" "$r" "debootstrap --variant=minbase $suite"
	remove "$r"
}

# build_base_python DIR: minbase plus python3.
build_base_python() {
	cp -a "$(base_dir minbase)" "$1"
	apt_layer "$1" python3
}

# ensure_base NAME: (re)builds the cached base layout NAME when its key changed.
ensure_base() {
	local name=$1 dir key
	dir=$(base_dir "$name")
	[[ $name == python ]] && ensure_base minbase
	key=$(base_key "$name")
	if [[ -f $dir.key && $(<"$dir.key") == "$key" && -d $dir ]]; then
		return
	fi
	log "base $name: building (the first run downloads packages)"
	remove "$dir" "$dir.key" "$dir.tmp"
	cleanup+=("$dir.tmp")
	mkdir -p "$outdir/base"
	"build_base_$name" "$dir.tmp" >&2
	mv "$dir.tmp" "$dir"
	echo "$key" >"$dir.key"
}

# from_base NAME WORK: WORK/oci is a copy of base layout NAME.
from_base() {
	ensure_base "$1"
	cp -a "$(base_dir "$1")" "$2/oci"
}

build_busybox_httpd() {
	local work=$1 root=$1/rootfs applet
	local busybox=/bin/busybox
	pkg_version busybox-static >/dev/null
	if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
		die "$busybox is not busybox-static's static binary"
	fi

	mkdir -p "$root"/{bin,etc,tmp,www}
	chmod 1777 "$root/tmp"
	install -m 0755 "$busybox" "$root/bin/busybox"
	for applet in sh httpd cat ls echo wget sleep; do
		ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/www:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nwww-data:x:33:\n' >"$root/etc/group"
	cp "$apps/busybox-httpd"/www/* "$root/www/"
	chmod 0644 "$root"/www/* "$root"/etc/passwd "$root"/etc/group

	new_layout "$work/oci"
	add_layer "$work/oci" "$root" "build.sh: busybox-static rootfs" "${own_files[@]}"
	configure "$work/oci" \
		--config.entrypoint /bin/busybox --config.entrypoint httpd --config.entrypoint -f \
		--config.entrypoint -v --config.entrypoint -p --config.entrypoint 8080 \
		--config.entrypoint -h --config.entrypoint /www \
		--config.exposedports 8080/tcp \
		--config.workingdir /www \
		--config.env PATH=/bin \
		--config.label org.opencontainers.image.title=busybox-httpd \
		--config.label org.opencontainers.image.description="slimtrace fixture: busybox httpd serving /www"
}

# busybox-cgi: busybox httpd forking a shell per CGI request, and no EXPOSE (slimtrace must find its port
# from the trace). /cgi-bin/personality calls a syscall the other routes never do (issue 19).
build_busybox_cgi() {
	local work=$1 root=$1/rootfs applet
	local busybox=/bin/busybox
	pkg_version busybox-static >/dev/null
	if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
		die "$busybox is not busybox-static's static binary"
	fi

	mkdir -p "$root"/{bin,etc,tmp,www}
	chmod 1777 "$root/tmp"
	install -m 0755 "$busybox" "$root/bin/busybox"
	for applet in sh httpd cat echo printf linux32 true; do
		ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	cp -r "$apps/busybox-cgi"/www/. "$root/www/"
	chmod 0644 "$root"/www/index.html "$root"/etc/passwd "$root"/etc/group
	chmod 0755 "$root"/www/cgi-bin "$root"/www/cgi-bin/*

	new_layout "$work/oci"
	add_layer "$work/oci" "$root" "build.sh: busybox-static rootfs with CGI scripts" "${own_files[@]}"
	configure "$work/oci" \
		--config.entrypoint /bin/busybox --config.entrypoint httpd --config.entrypoint -f \
		--config.entrypoint -v --config.entrypoint -p --config.entrypoint 8080 \
		--config.entrypoint -h --config.entrypoint /www \
		--config.workingdir /www \
		--config.env PATH=/bin \
		--config.label org.opencontainers.image.title=busybox-cgi \
		--config.label org.opencontainers.image.description="slimtrace fixture: busybox httpd with CGI, no EXPOSE"
}

build_python_app() {
	local work=$1
	from_base python "$work"
	copy_app "$apps/python-app/app/." "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd python3 --config.cmd /app/server.py \
		--config.exposedports 8000/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env PYTHONUNBUFFERED=1 \
		--config.label org.opencontainers.image.title=python-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: stdlib http.server app" \
		--config.label io.slimtrace.fixture=python-app
}

build_django_app() {
	local work=$1
	from_base python "$work"
	apt_layer "$work/oci" python3-django
	copy_app "$apps/django-app/app/." "$work/layer/app"
	# A distribution installed as pip would: its package and its dist-info (entry_points.txt).
	copy_app "$apps/django-app/dist-packages/." "$work/layer/usr/local/lib/python3.11/dist-packages"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app; pip install shop-exporters" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd python3 --config.cmd /app/server.py \
		--config.exposedports 8000/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env PYTHONUNBUFFERED=1 \
		--config.label org.opencontainers.image.title=django-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: Django app with lazily loaded templates and plugins" \
		--config.label io.slimtrace.fixture=django-app
}

build_go_static() {
	local work=$1 src=$apps/go-static
	need go
	from_base minbase "$work"
	mkdir -p "$work/layer/usr/local/bin" "$work/layer/srv"
	(cd "$src" && env CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS= GOCACHE="$outdir/go-build" \
		go build -trimpath -buildvcs=false -ldflags='-s -w' -o "$work/layer/usr/local/bin/go-static" .)
	copy_app "$src/templates" "$src/data" "$work/layer/srv"
	add_layer "$work/oci" "$work/layer" "build.sh: go build -o /usr/local/bin/go-static; COPY templates data /srv" \
		"${own_files[@]}"
	configure "$work/oci" \
		--config.entrypoint /usr/local/bin/go-static \
		--config.exposedports 8080/tcp \
		--config.workingdir /srv \
		--config.env "$default_path" \
		--config.env ADDR=:8080 \
		--config.label org.opencontainers.image.title=go-static \
		--config.label org.opencontainers.image.description="slimtrace fixture: static Go HTTP server" \
		--config.label io.slimtrace.fixture=go-static
}

build_flask_static() {
	local work=$1
	from_base python "$work"
	apt_layer "$work/oci" python3-flask
	copy_app "$apps/flask-static/app/." "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd flask --config.cmd --app --config.cmd app --config.cmd run \
		--config.cmd --host=0.0.0.0 --config.cmd --port=5000 \
		--config.exposedports 5000/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env PYTHONUNBUFFERED=1 \
		--config.label org.opencontainers.image.title=flask-static \
		--config.label org.opencontainers.image.description="slimtrace fixture: Flask app with static files" \
		--config.label io.slimtrace.fixture=flask-static
	# What a Dockerfile's HEALTHCHECK writes (durations in nanoseconds).
	edit_config "$work/oci" '.config.Healthcheck = {
		Test: ["CMD-SHELL", "python3 -c \"import urllib.request; urllib.request.urlopen('"'"'http://127.0.0.1:5000/healthz'"'"', timeout=3)\""],
		Interval: 30000000000, Timeout: 5000000000, StartPeriod: 5000000000, Retries: 3}'
}

build_express() {
	local work=$1 src=$apps/express
	need jq
	from_base minbase "$work"
	apt_layer "$work/oci" nodejs
	copy_app "$src/package.json" "$src/package-lock.json" "$src/server.js" "$src/lib" "$src/public" "$src/views" \
		"$work/layer/app"
	npm_ci "$src/package-lock.json" "$work/layer/app"
	chmod -R u=rwX,go=rX "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app; npm ci --omit=dev" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd node --config.cmd server.js \
		--config.exposedports 3000/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env NODE_ENV=production \
		--config.env PORT=3000 \
		--config.label org.opencontainers.image.title=express \
		--config.label org.opencontainers.image.description="slimtrace fixture: Express app on Debian's nodejs" \
		--config.label io.slimtrace.fixture=express
}

build_nginx_static() {
	local work=$1 src=$apps/nginx-static
	from_base minbase "$work"
	chroot_open "$work/oci"
	# As the official image does: no default site, logs to the container's stdout and stderr.
	chroot_run "$(apt_install nginx)
		rm -f /etc/nginx/sites-enabled/default
		ln -sf /dev/stdout /var/log/nginx/access.log
		ln -sf /dev/stderr /var/log/nginx/error.log"
	chroot_commit "$work/oci" "apt-get install nginx; rm sites-enabled/default; logs to stdout and stderr"
	mkdir -p "$work/layer/etc/nginx/conf.d" "$work/layer/var/www"
	install -m 0644 "$src/site.conf" "$work/layer/etc/nginx/conf.d/site.conf"
	copy_app "$src/site" "$work/layer/var/www"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY site.conf /etc/nginx/conf.d/; COPY site /var/www/site" \
		"${own_files[@]}"
	configure "$work/oci" \
		--config.cmd nginx --config.cmd -g --config.cmd "daemon off;" \
		--config.exposedports 80/tcp \
		--config.workingdir /var/www/site \
		--config.env "$default_path" \
		--config.stopsignal SIGQUIT \
		--config.label org.opencontainers.image.title=nginx-static \
		--config.label org.opencontainers.image.description="slimtrace fixture: static site on Debian's nginx" \
		--config.label io.slimtrace.fixture=nginx-static
}

build_ruby_app() {
	local work=$1 src=$apps/ruby-app
	from_base minbase "$work"
	apt_layer "$work/oci" ruby ruby-sinatra ruby-webrick
	copy_app "$src/app.rb" "$src/lib" "$src/views" "$src/public" "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd ruby --config.cmd app.rb \
		--config.exposedports 4567/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env APP_ENV=production \
		--config.label org.opencontainers.image.title=ruby-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: Sinatra app on WEBrick" \
		--config.label io.slimtrace.fixture=ruby-app
}

build_php_app() {
	local work=$1 src=$apps/php-app
	from_base minbase "$work"
	apt_layer "$work/oci" php-cli
	copy_app "$src/public" "$src/lib" "$src/src" "$src/vendor" "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd php --config.cmd -S --config.cmd 0.0.0.0:8000 --config.cmd -t --config.cmd /app/public \
		--config.exposedports 8000/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.label org.opencontainers.image.title=php-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: PHP built-in server app" \
		--config.label io.slimtrace.fixture=php-app
}

build_java_app() {
	local work=$1 src=$apps/java-app
	need javac
	from_base minbase "$work"
	apt_layer "$work/oci" openjdk-17-jre-headless
	mkdir -p "$work/layer/app/classes"
	javac --release 17 -encoding UTF-8 -d "$work/layer/app/classes" "$src"/src/app/*.java
	chmod -R u=rwX,go=rX "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: javac --release 17 -d /app/classes" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd java --config.cmd -cp --config.cmd /app/classes --config.cmd app.Main \
		--config.exposedports 8080/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env PORT=8080 \
		--config.label org.opencontainers.image.title=java-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: com.sun.net.httpserver app" \
		--config.label io.slimtrace.fixture=java-app
}

build_elixir_app() {
	local work=$1 src=$apps/elixir-app
	from_base minbase "$work"
	# Compiled in the chroot with the image's own elixirc; the .beam files go in the app layer.
	chroot_open "$work/oci"
	mkdir -p "$root/build"
	cp -a "$src/lib" "$root/build/lib"
	chroot_run "$(apt_install elixir)
		cd /build && find lib -name '*.ex' | sort | xargs elixirc -o ebin"
	mkdir -p "$work/layer/app"
	mv "$root/build/ebin" "$work/layer/app/ebin"
	rm -rf "$root/build"
	chroot_commit "$work/oci" "apt-get install elixir"
	chmod -R u=rwX,go=rX "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: elixirc -o /app/ebin lib/*.ex" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd elixir --config.cmd -pa --config.cmd /app/ebin --config.cmd -e --config.cmd "App.main()" \
		--config.exposedports 4000/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env LANG=C.UTF-8 \
		--config.env PORT=4000 \
		--config.label org.opencontainers.image.title=elixir-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: Elixir gen_tcp HTTP responder" \
		--config.label io.slimtrace.fixture=elixir-app
}

build_cli_yq() {
	local work=$1
	from_base python "$work"
	apt_layer "$work/oci" yq
	configure "$work/oci" \
		--config.cmd yq --config.cmd --help \
		--config.workingdir /data \
		--config.env "$default_path" \
		--config.label org.opencontainers.image.title=cli-yq \
		--config.label org.opencontainers.image.description="slimtrace fixture: yq and tomlq (jq for YAML and TOML) command-line tools" \
		--config.label io.slimtrace.fixture=cli-yq
}

build_nonroot_app() {
	local work=$1
	from_base python "$work"
	chroot_open "$work/oci"
	chroot_run "useradd --uid 10001 --user-group --home-dir /srv/www --no-create-home --shell /usr/sbin/nologin app"
	chroot_commit "$work/oci" "useradd --uid 10001 app"
	# /srv/www owned by app and readable by it alone; /srv stays root's.
	mkdir -p "$work/layer/srv/www"
	cp -a "$apps/nonroot-app/www/." "$work/layer/srv/www/"
	chmod -R u=rwX,go= "$work/layer/srv/www"
	chown -R 10001:10001 "$work/layer/srv/www"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY --chown=app:app www /srv/www" --mtime="@$epoch"
	configure "$work/oci" \
		--config.user app \
		--config.cmd python3 --config.cmd -m --config.cmd http.server --config.cmd 8080 \
		--config.exposedports 8080/tcp \
		--config.workingdir /srv/www \
		--config.env "$default_path" \
		--config.env PYTHONUNBUFFERED=1 \
		--config.label org.opencontainers.image.title=nonroot-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: http.server as a non-root user" \
		--config.label io.slimtrace.fixture=nonroot-app
}

build_redis_db() {
	local work=$1
	from_base minbase "$work"
	apt_layer "$work/oci" redis-server
	configure "$work/oci" \
		--config.user redis \
		--config.exposedports 6379/tcp \
		--config.workingdir /var/lib/redis \
		--config.env "$default_path" \
		--config.label org.opencontainers.image.title=redis-db \
		--config.label org.opencontainers.image.description="slimtrace fixture: Debian's redis-server on 127.0.0.1:6379, no persistence" \
		--config.label io.slimtrace.fixture=redis-db
	# No config file: the flags say it all. Loopback only (its clients share its network
	# namespace), nothing written to disk; /var/lib/redis is the redis user's, made by the package.
	# Cmd is set here because umoci drops an empty argument (save's "").
	edit_config "$work/oci" '.config.Cmd = ["redis-server", "--bind", "127.0.0.1", "--port", "6379",
		"--save", "", "--appendonly", "no", "--daemonize", "no"]
	| .config.Healthcheck = {
		Test: ["CMD", "redis-cli", "ping"],
		Interval: 10000000000, Timeout: 3000000000, StartPeriod: 2000000000, Retries: 3}'
}

build_redis_app() {
	local work=$1
	from_base python "$work"
	copy_app "$apps/redis-app/app/." "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app" "${own_files[@]}"
	configure "$work/oci" \
		--config.cmd python3 --config.cmd /app/server.py \
		--config.exposedports 8080/tcp \
		--config.workingdir /app \
		--config.env "$default_path" \
		--config.env PYTHONUNBUFFERED=1 \
		--config.env REDIS_HOST=redis \
		--config.label org.opencontainers.image.title=redis-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: stdlib web app that needs Redis at REDIS_HOST:6379" \
		--config.label io.slimtrace.fixture=redis-app
}

# build NAME FORCE: build one image unless its tarball is up to date.
build() {
	local name=$1 force=$2 key work start=$SECONDS
	key=$(image_key "$name")
	if [[ $force == 0 && -f $outdir/$name.tar && -f $outdir/$name.key && $(<"$outdir/$name.key") == "$key" ]]; then
		log "$name: up to date ($outdir/$name.tar)"
		return
	fi
	log "$name: building (key ${key:0:12})"
	work=$(mktemp -d "$outdir/.work-$name.XXXXXX")
	cleanup+=("$work")
	"build_${name//-/_}" "$work" >&2
	umoci gc --layout "$work/oci"
	export_archive "$work/oci" "$name"
	echo "$key" >"$outdir/$name.key"
	remove "$work"
	log "$name: wrote $outdir/$name.tar ($(du -h "$outdir/$name.tar" | cut -f1)) in $((SECONDS - start))s"
}

# export_archive LAYOUT NAME: docker-archive tarball of LAYOUT:latest, written atomically.
export_archive() {
	local layout=$1 name=$2 tmp=$outdir/.$2.tar.tmp
	rm -f "$tmp"
	skopeo --insecure-policy copy --quiet "oci:$layout:latest" \
		"docker-archive:$tmp:slimtrace-fixtures/$name:latest" >&2
	mv -f "$tmp" "$outdir/$name.tar"
}

main() {
	local force=0 name names=() tool
	while (($#)); do
		case $1 in
		-f) force=1 ;;
		-h | --help) usage ;;
		-*) usage ;;
		*) names+=("$1") ;;
		esac
		shift
	done
	((${#names[@]})) || usage
	for name in "${names[@]}"; do
		[[ " ${all_images[*]} " == *" $name "* ]] || die "unknown image $name (known: ${all_images[*]})"
	done
	[[ $(id -u) == 0 ]] || die "must run as root (file ownership inside the images)"
	for tool in umoci skopeo jq; do
		need "$tool"
	done

	mkdir -p "$outdir"
	exec 9>"$outdir/.lock"
	flock 9
	for name in "${names[@]}"; do
		build "$name" "$force"
	done
}

main "$@"
