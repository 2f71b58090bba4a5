// Package dockerfile reverse-engineers a Dockerfile (slimtrace's
// Dockerfile.fat) from an image's build history and config.
//
// Each history step becomes the instruction that made it: docker's classic
// builder ("/bin/sh -c #(nop)  CMD [...]", "/bin/sh -c apt-get ...",
// "|1 A=b /bin/sh -c ..."), BuildKit ("RUN /bin/sh -c ... # buildkit",
// "EXPOSE map[8080/tcp:{}]", "HEALTHCHECK &{...}") and tools that record
// Dockerfile text (kaniko, buildah) are understood; what other tools record
// (umoci, ko, jib, apko, debootstrap scripts) is kept as a comment. The
// image config then fills in what the history does not set, so the file
// describes the image's final ENTRYPOINT, CMD, ENV, EXPOSE, WORKDIR, USER,
// LABEL, HEALTHCHECK, STOPSIGNAL and VOLUME. A comment gives the size of the
// layer each step made.
//
// The result describes the image; it rarely rebuilds it as is: the build
// context, ADD/COPY sources (docker records content hashes such as
// file:3d1f…), RUN mounts and secrets are not in an image.
//
// The package is pure: it reads plain values and writes bytes.
//
// It is pure: it may import the image-spec types and no I/O package.
package dockerfile
