package image

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// Privileged tests: real containerd (CONTAINERD_ADDRESS), as root, with the
// fixture tarballs from testdata/images/build.sh.

// testNamespace is the containerd namespace tests use unless
// CONTAINERD_NAMESPACE names another.
const testNamespace = "slimtrace-test"

func testContext(t *testing.T) context.Context { return privtest.Context(t, 3*time.Minute) }

// testRuntime connects to the containerd under test, with a state path
// private to the test.
func testRuntime(t *testing.T) (*Store, context.Context) {
	t.Helper()
	return testRuntimeWith(t, Options{})
}

// testRuntimeWith is testRuntime with opts, whose Address and StatePath it
// sets, and Namespace unless opts names one.
func testRuntimeWith(t *testing.T, opts Options) (*Store, context.Context) {
	t.Helper()
	privtest.Root(t)
	addr := os.Getenv("CONTAINERD_ADDRESS")
	if addr == "" {
		privtest.Skip(t, "CONTAINERD_ADDRESS is not set (start one with .ci/services.sh start)")
	}
	ns := os.Getenv("CONTAINERD_NAMESPACE")
	if ns == "" {
		ns = testNamespace
	}
	ctx := testContext(t)
	if opts.Namespace == "" {
		opts.Namespace = ns
	}
	opts.Address, opts.StatePath = addr, t.TempDir()
	rt, err := Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt, ctx
}

// fixture returns the path of a fixture image tarball.
func fixture(t *testing.T, name string) string { return privtest.Fixture(t, name) }

// storeState lists images and leases, to check a failed Resolve changed
// neither.
func storeState(t *testing.T, ctx context.Context, rt *Store) (imgs, lss []string) {
	t.Helper()
	ctx = rt.nsctx(ctx)
	is, err := rt.client.ImageService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range is {
		imgs = append(imgs, i.Name+"@"+i.Target.Digest.String())
	}
	ls, err := rt.client.LeasesService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		lss = append(lss, l.ID)
	}
	return imgs, lss
}
