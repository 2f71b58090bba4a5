// Package builder makes the slim image: the files an app used, cut from its
// fat image by BuildKit.
//
// It owns everything slimtrace does with BuildKit. The build is an LLB graph
// made by small pure functions (Definition marshals it without a daemon):
//
//   - the source is the fat image's kept paths: a local source the build's
//     session serves (keptFS) from the image's root filesystem, mounted
//     read-only on the host by the caller (Source.Dir). Only the kept paths
//     and their parents cross the session, so buildkitd never pulls,
//     unpacks or reads the image's layers: a build costs what the app kept,
//     not what the image holds. Every path is checked first (in the image,
//     no symlink on the way); only kept regular files are ever opened;
//   - the result is llb.Scratch() plus one file operation (one layer): one
//     copy per kept directory, parents first, each taking that directory's
//     kept entries by exact include patterns with their owner, mode,
//     file capabilities, times, symlinks as symlinks and hardlinks within
//     the directory; then the overrides of mode and owner; then each
//     directory's times again, once nothing more is created inside it.
//     A kept path missing from the image fails the build.
//
// Build connects to buildkitd (or starts one of its own, with a containerd
// worker, when none answers, and stops it afterwards), solves the graph with
// the image config as the result's metadata, exports an OCI archive and the
// requested docker or OCI tarballs, and hands the archive to Options.Load,
// which puts it into the user's containerd namespace (image.Store.Load).
// Solve, progress and outputs run under one errgroup; BuildKit's progress
// display goes to Options.Progress, or else one log line per phase goes to
// the zerolog logger in the context.
//
//	st, _ := image.Connect(ctx, image.Options{Namespace: ns})
//	img, _ := st.Resolve(ctx, ref)
//	view, _ := st.View(ctx, img) // read-only mount of its filesystem
//	defer view.Close(ctx)
//	res, err := builder.Build(ctx, builder.Spec{
//		Source: builder.Source{Name: img.Name, Digest: img.Digest(), Dir: view.Dir},
//		Paths:  keep,
//		Config: slimConfig, // a dockerspec.DockerOCIImage
//	}, builder.Options{
//		Name: "app.slim",
//		Load: func(ctx context.Context, archive string) error {
//			_, err := st.Load(ctx, archive, "app.slim")
//			return err
//		},
//	})
//
// It may import BuildKit and fsutil (the only package that does); no
// containerd and no other internal package: what it builds from comes as
// plain values.
package builder
