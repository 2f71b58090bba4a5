package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

type versionCmd struct{}

func (versionCmd) Run(ctx context.Context) error {
	fmt.Printf("slimtrace %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		fmt.Printf("kernel:     %s %s\n", unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]))
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
		fmt.Println("BTF:        /sys/kernel/btf/vmlinux")
	} else {
		fmt.Println("BTF:        missing (CO-RE programs cannot load)")
	}
	if mp, err := cgroup.Mountpoint(); err == nil {
		fmt.Printf("cgroup v2:  %s\n", mp)
	} else {
		fmt.Printf("cgroup v2:  %v\n", err)
	}
	if os.Geteuid() != 0 {
		fmt.Println("eBPF:       not probed (needs root)")
		return nil
	}
	for _, f := range tracer.Features() {
		status := "usable"
		if f.Err != nil {
			status = "not usable: " + firstLine(f.Err.Error())
		}
		fmt.Printf("eBPF %-7s %s\n", f.Name+":", status)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
