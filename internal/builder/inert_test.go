package builder

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// TestInert: the slim image's graph holds only source and file ops, and
// checkInert refuses each kind of op that could run or reach anything.
func TestInert(t *testing.T) {
	mode := os.FileMode(0o755) | os.ModeSetuid
	spec := Spec{
		Source:    Source{Name: "docker.io/library/app:latest", Digest: testDigest},
		Paths:     []string{"/bin/busybox", "/bin/sh", "/www/index.html", "/etc/passwd"},
		Overrides: map[string]Override{"/bin/busybox": {Mode: &mode, Owner: &Owner{UID: 0, GID: 0}}},
	}
	def, err := Definition(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkInert(def); err != nil {
		t.Fatalf("the slim graph: %v", err)
	}
	for _, op := range def.Def {
		var o pb.Op
		if err := o.UnmarshalVT(op); err != nil {
			t.Fatal(err)
		}
		switch o.Op.(type) {
		case nil, *pb.Op_Source, *pb.Op_File:
		default:
			t.Errorf("slim graph holds %T", o.Op)
		}
	}

	ctx := context.Background()
	marshal := func(st llb.State) *llb.Definition {
		d, err := st.Marshal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	fat := fatImage(spec.Source)
	build, _ := (&pb.Op{Op: &pb.Op_Build{Build: &pb.BuildOp{}}}).MarshalVT()
	for name, c := range map[string]struct {
		def  *llb.Definition
		want string
	}{
		"exec": {marshal(fat.Run(llb.Shlex("true")).Root()), "an exec"},
		"cache mount": {marshal(fat.Run(llb.Shlex("true"),
			llb.AddMount("/c", llb.Scratch(), llb.AsPersistentCacheDir("c", llb.CacheMountShared))).Root()), "an exec"},
		"bind mount":      {marshal(fat.Run(llb.Shlex("true"), llb.AddMount("/h", fat, llb.Readonly)).Root()), "an exec"},
		"local source":    {marshal(llb.Scratch().File(llb.Copy(llb.Local("ctx"), "/", "/"))), `source "local://ctx"`},
		"image source":    {marshal(llb.Image("docker.io/library/app:latest")), "docker-image://"},
		"oci layout":      {marshal(llb.OCILayout("slimtrace-source@" + testDigest.String())), "oci-layout://"},
		"git source":      {marshal(llb.Git("https://example.com/x.git", "main")), "git"},
		"merge":           {marshal(llb.Merge([]llb.State{fat, llb.Scratch().File(llb.Mkdir("/x", 0o755))})), "a merge"},
		"custom frontend": {&llb.Definition{Def: [][]byte{build}}, "custom frontend"},
	} {
		err := checkInert(c.def)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: checkInert = %v; want an error naming %q", name, err, c.want)
		}
	}
}
