// Package target runs the image being profiled under containerd.
//
// It owns everything slimtrace does with containerd and the container's
// surroundings: resolving or importing an image (a name in containerd's store,
// or a docker-archive:, oci-archive:, oci: or docker-daemon: source), creating
// a container and its task without starting it (so a tracer can attach to the
// task's cgroup before the entrypoint runs), a private network namespace with
// only loopback, the container's /etc/hosts, /etc/resolv.conf and /etc/hostname,
// log capture, exec, stop and a cleanup that leaves nothing behind.
//
// The flow is:
//
//	rt, err := target.Connect(ctx, target.Options{})
//	img, err := rt.Resolve(ctx, "docker-archive:app.tar")
//	t, err := rt.Create(ctx, img, target.RunConfig{})
//	defer t.Close(ctx)
//	// attach to t.CgroupPath here
//	err = t.Start(ctx)
//	conn, err := t.DialContext(ctx, "tcp", "127.0.0.1:8080")
//	status, err := t.Stop(ctx, 10*time.Second)
//
// Runtime.View mounts an image's filesystem read-only for reading what it
// holds, and Runtime.Prune removes runs whose slimtrace process died before
// closing them.
//
// The containerd client stays behind this package: exported signatures use
// plain Go values. Logs go to the zerolog logger carried in the context. It
// works against containerd 1.6 and 2.x.
package container
