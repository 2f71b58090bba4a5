// Package session is slimtrace's pipeline: one function per stage, each
// taking the previous stage's result and returning a plain value.
//
//	run, err := session.Trace(ctx, opts)       // image resolved, container run traced, probed, removed
//	defer run.Close(ctx)                       // the image view and the store stay open until here
//	slim, err := session.Slim(ctx, run, b)     // file set, then BuildKit (build only)
//	prof, err := session.MakeProfiles(run)     // seccomp and AppArmor
//	v, err := session.Verify(ctx, run, name)   // the slim image run and compared (--verify)
//	rep := session.Report(run, slim, prof, v, session.Artifacts(dir, run.Image.Name))
//	err = session.WriteArtifacts(rep, prof)    // creport.json and the profiles
//
// The report is assembled once, at the end, from the stages' results; no
// stage edits another's. The work of each stage lives in its own package:
// image and container (containerd), tracer (eBPF), probe, fileset, builder
// (BuildKit), profile, creport. session owns only their order and the
// cleanup between them.
//
// It may import every internal package but cmd; nothing imports it but
// cmd/slimtrace and the end-to-end tests.
package session
