// Package image finds the image a run starts from and puts the slim image
// back: it owns slimtrace's use of containerd's image store.
//
// Resolve looks a name up in containerd's store (normalised as docker
// does: busybox is docker.io/library/busybox:latest) or imports a source
// (docker-archive:, oci-archive:, oci:, docker-daemon:; see Sources),
// reusing an archive's image when the store already holds it, unpacks it,
// and decodes its manifest and config once into an Image. Every other
// package reads the image's configuration as docker's own type,
// dockerspec.DockerOCIImage, from Image.Config: there is no second model of
// it. View mounts an image's filesystem read-only for reading what it
// holds; Load imports the archive the builder exported. Nothing here
// changes an image's content.
//
// Registries: docker://REF sources, and bare names when Options.Pull says
// so, are pulled for this platform only; Push sends an image to a
// registry. Both reach registries as Docker does (HTTPS with the system's
// CAs; loopback and Options.InsecureRegistries hosts may fall back to plain
// HTTP) with the credentials of a Docker config file (auths, credsStore,
// credHelpers; see Options.RegistryAuth).
//
//	st, err := image.Connect(ctx, image.Options{})
//	img, err := st.Resolve(ctx, "docker-archive:app.tar")
//	v, err := st.View(ctx, img)
//	defer v.Close(ctx)
//
// It may import containerd (it and internal/container are the only
// packages that do) and no other internal package. Logs go to the zerolog
// logger carried in the context. It works against containerd 1.6 and 2.x.
package image
