// Package container runs an image under containerd for tracing, and finds
// running containers to attach to (FindWorkloads: containerd, the
// kubelet's CRI containers by their labels, Docker's; TaskEvents and
// LoadWorkload for record) without touching them.
//
// It owns the container and its surroundings: creating a container and its
// task without starting it (so a tracer can attach to the task's cgroup
// before the entrypoint runs), a private network namespace with only
// loopback, the container's /etc/hosts, /etc/resolv.conf and /etc/hostname,
// bind mounts, log capture, exec, stop, and a cleanup that leaves nothing
// behind; Prune removes runs whose slimtrace process died before closing
// them.
//
//	st, err := image.Connect(ctx, image.Options{})
//	img, err := st.Resolve(ctx, "docker-archive:app.tar")
//	c, err := container.NewRuntime(st).Create(ctx, img, container.RunConfig{})
//	defer c.Close(ctx)
//	// attach to c.CgroupPath here
//	err = c.Start(ctx)
//	conn, err := c.DialContext(ctx, "tcp", "127.0.0.1:8080")
//	status, err := c.Stop(ctx, 10*time.Second)
//
// It may import containerd (it and internal/image are the only packages
// that do), internal/image for the images it runs and internal/cgroup;
// exported signatures use plain Go values. Logs go to the zerolog logger
// carried in the context.
package container
