#!/usr/bin/env bash
# Builds slimtrace's fixture images from Debian packages only (no registry is needed) and writes
# each one as a docker-archive tarball (what `docker save` writes):
#
#   $SLIMTRACE_CACHE/fixtures/NAME.tar    image slimtrace-fixtures/NAME:latest
#   $SLIMTRACE_CACHE/fixtures/NAME.key    cache key of the tarball beside it
#
# usage: testdata/images/build.sh [-f] NAME...    (-f rebuilds even when the key matches)
#
# The key hashes this script, the files under testdata/images/NAME/ and the versions of the host
# packages copied into the image; an image is rebuilt only when its key changes. The debootstrap
# base of python-app is cached on its own (fixtures/base/), and downloaded .debs in fixtures/debs/.
# Needs root, umoci, skopeo, debootstrap and busybox-static (`make deps`). Progress goes to stderr.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
outdir=$cache/fixtures
suite=bookworm
all_images=(busybox-httpd python-app)
# Timestamp for our own files and the image configs, so rebuilding gives the same image.
epoch=1704067200
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
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

# image_key NAME: hash of this script, the image's own files (paths, modes, contents) and the
# host package versions that end up inside the image.
image_key() {
	local name=$1
	{
		sha256sum "$here/build.sh" | cut -d' ' -f1
		(cd "$here/$name" && find . -type f -printf '%p %m\n' | LC_ALL=C sort)
		(cd "$here/$name" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		case $name in
		busybox-httpd) echo "busybox-static $(pkg_version busybox-static)" ;;
		python-app) base_key ;;
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

# export_archive LAYOUT NAME: docker-archive tarball of LAYOUT:latest, written atomically.
export_archive() {
	local layout=$1 name=$2 tmp=$outdir/.$2.tar.tmp
	rm -f "$tmp"
	skopeo --insecure-policy copy --quiet "oci:$layout:latest" \
		"docker-archive:$tmp:slimtrace-fixtures/$name:latest" >&2
	mv -f "$tmp" "$outdir/$name.tar"
}

build_busybox_httpd() {
	local work=$1 src=$here/busybox-httpd root=$1/rootfs applet
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
	cp "$src"/www/* "$root/www/"
	chmod 0644 "$root"/www/* "$root"/etc/passwd "$root"/etc/group

	new_layout "$work/oci"
	add_layer "$work/oci" "$root" "build.sh: busybox-static rootfs" "${own_files[@]}"
	umoci config --image "$work/oci:latest" --created "$created" --history.created "$created" \
		--config.entrypoint /bin/busybox --config.entrypoint httpd --config.entrypoint -f \
		--config.entrypoint -v --config.entrypoint -p --config.entrypoint 8080 \
		--config.entrypoint -h --config.entrypoint /www \
		--config.exposedports 8080/tcp \
		--config.workingdir /www \
		--config.env PATH=/bin \
		--config.label org.opencontainers.image.title=busybox-httpd \
		--config.label org.opencontainers.image.description="slimtrace fixture: busybox httpd serving /www" \
		--history.created_by "build.sh: config"
}

# base_key: what the cached python base layout depends on.
base_key() {
	{
		declare -f build_python_base
		echo "$suite $(debian_mirror) $(dpkg --print-architecture)"
	} | sha
}

# build_python_base DIR: OCI layout at DIR with one layer: debootstrap minbase + python3,
# stripped of apt lists, docs, man pages, locales and logs.
build_python_base() {
	local dir=$1 r=$1.rootfs mirror
	mirror=$(debian_mirror)
	command -v debootstrap >/dev/null || die "debootstrap not found; run 'make deps'"
	mkdir -p "$cache/fixtures/debs"
	log "python-app: debootstrap $suite from $mirror (debs cached in $cache/fixtures/debs)"
	debootstrap --variant=minbase --include=python3 --cache-dir="$cache/fixtures/debs" \
		"$suite" "$r" "$mirror" >"$dir.debootstrap.log" 2>&1 || {
		tail -n 30 "$dir.debootstrap.log" >&2
		die "debootstrap failed; log: $dir.debootstrap.log"
	}
	# Host files debootstrap copies in, and anything not needed to run python3.
	rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
	rm -rf "${r:?}"/dev/* "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old \
		"$r"/var/lib/dpkg/*-old "$r"/var/cache/ldconfig/aux-cache \
		"$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian
	find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
	find "$r/var/log" -type f -delete
	new_layout "$dir"
	add_layer "$dir" "$r" "debootstrap --variant=minbase --include=python3 $suite"
	remove "$r"
}

# ensure_python_base: (re)builds the cached base layout python_base_dir when its key changed.
python_base_dir=$outdir/base/python-$suite
ensure_python_base() {
	local dir=$python_base_dir key
	key=$(base_key)
	if [[ -f $dir.key && $(<"$dir.key") == "$key" && -d $dir ]]; then
		log "python-app: base layer up to date ($dir)"
		return
	fi
	log "python-app: building base layer (first run takes a few minutes)"
	remove "$dir" "$dir.rootfs" "$dir.key"
	cleanup+=("$dir.rootfs")
	mkdir -p "$outdir/base"
	build_python_base "$dir"
	echo "$key" >"$dir.key"
}

build_python_app() {
	local work=$1 src=$here/python-app
	ensure_python_base
	cp -a "$python_base_dir" "$work/oci"
	mkdir -p "$work/layer/app"
	cp -a "$src/app/." "$work/layer/app/"
	chmod -R u=rwX,go=rX "$work/layer/app"
	add_layer "$work/oci" "$work/layer" "build.sh: COPY app /app" "${own_files[@]}"
	umoci config --image "$work/oci:latest" --created "$created" --history.created "$created" \
		--config.cmd python3 --config.cmd /app/server.py \
		--config.exposedports 8000/tcp \
		--config.workingdir /app \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--config.env PYTHONUNBUFFERED=1 \
		--config.label org.opencontainers.image.title=python-app \
		--config.label org.opencontainers.image.description="slimtrace fixture: stdlib http.server app" \
		--config.label io.slimtrace.fixture=python-app \
		--history.created_by "build.sh: config"
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
	case $name in
	busybox-httpd) build_busybox_httpd "$work" >&2 ;;
	python-app) build_python_app "$work" >&2 ;;
	esac
	umoci gc --layout "$work/oci"
	export_archive "$work/oci" "$name"
	echo "$key" >"$outdir/$name.key"
	remove "$work"
	log "$name: wrote $outdir/$name.tar ($(du -h "$outdir/$name.tar" | cut -f1)) in $((SECONDS - start))s"
}

main() {
	local force=0 name names=()
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
	for tool in umoci skopeo; do
		command -v "$tool" >/dev/null || die "$tool not found; run 'make deps'"
	done

	mkdir -p "$outdir"
	exec 9>"$outdir/.lock"
	flock 9
	for name in "${names[@]}"; do
		build "$name" "$force"
	done
}

main "$@"
