package session

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

// TestAppArmorApps profiles sample apps with all their probes and checks
// each generated AppArmor profile with the real parser (apparmor_parser -Q
// -K: parse and compile, load nothing; this kernel does not enforce
// AppArmor), and against the trace: a network rule for the HTTP server's
// listening socket, and a capability rule for exactly the capabilities the
// kernel granted the application (not the runtime's setup).
func TestAppArmorApps(t *testing.T) {
	parser := ""
	for _, p := range []string{"apparmor_parser", "/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"} {
		if path, err := exec.LookPath(p); err == nil {
			parser = path
			break
		}
	}
	if parser == "" {
		privtest.Skip(t, "apparmor_parser is not installed (apt-get install apparmor)")
	}
	for _, c := range []struct {
		app string
		// network rules the app's server needs, one of each inner list
		network [][]string
		// capabilities it must be granted (nginx's master binds port
		// 80 and drops to www-data for its workers)
		caps []string
		// noCaps: the kernel must grant it none
		noCaps bool
	}{
		{"busybox-httpd", [][]string{{"network inet stream,", "network inet6 stream,"}}, nil, false},
		{"python-app", [][]string{{"network inet stream,", "network inet6 stream,"}}, nil, false},
		{"nginx-static", [][]string{{"network inet stream,", "network inet6 stream,"}},
			[]string{"setgid", "setuid", "net_bind_service"}, false},
		// USER app (uid 10001): the kernel grants it nothing, so no
		// capability rule at all.
		{"nonroot-app", [][]string{{"network inet stream,", "network inet6 stream,"}}, nil, true},
	} {
		t.Run(c.app, func(t *testing.T) {
			addr, tar := env(t, c.app)
			cmds, err := probe.ParseFile(filepath.Join(appDir(c.app), "probes.json"))
			if err != nil {
				t.Fatal(err)
			}
			o := options(t, addr, "docker-archive:"+tar)
			o.Probe.Cmds = cmds
			res, err := profileRun(testContext(t), o)
			if err != nil {
				t.Fatal(err)
			}
			assertGone(t, addr, res.Report.Run.ContainerID)
			if res.Report.Probe.Failed != 0 {
				t.Errorf("probes failed: %+v", res.Report.Probe.HTTP)
			}
			if err := writeArtifacts(res, t.TempDir()); err != nil {
				t.Fatal(err)
			}
			path := res.Report.Artifacts.AppArmor
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p := string(b)
			var out bytes.Buffer
			cmd := exec.Command(parser, "-Q", "-K", path)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("apparmor_parser -Q -K rejects the profile: %v\n%s\n%s", err, out.String(), p)
			}
			rules := map[string]bool{}
			for _, l := range strings.Split(p, "\n") {
				rules[strings.TrimSpace(l)] = true
			}
			tr := res.Trace
			t.Logf("network families: %+v", tr.NetworkFamilies)
			t.Logf("capabilities: %+v", tr.Capabilities)
			for _, anyOf := range c.network {
				if !slices.ContainsFunc(anyOf, func(r string) bool { return rules[r] }) {
					t.Errorf("profile has none of %q:\n%s", anyOf, p)
				}
			}
			if rules["network,"] {
				t.Errorf("profile allows every network family:\n%s", p)
			}
			if !tr.Tracer.CapabilitiesRecorded {
				t.Fatal("capabilities were not recorded on a kernel with capability:cap_capable")
			}
			var granted []string
			for _, cp := range tr.Capabilities {
				if !cp.Setup && !cp.OtherCreds && !cp.Unmediated && cp.Granted > 0 && !slices.Contains(granted, cp.Name) {
					granted = append(granted, cp.Name)
				}
			}
			for _, name := range c.caps {
				if !slices.Contains(granted, name) {
					t.Errorf("%s was not granted to the app: %+v", name, tr.Capabilities)
				}
			}
			if c.noCaps && len(granted) > 0 {
				t.Errorf("capabilities granted to a non-root app: %v", granted)
			}
			var ruled []string
			for r := range rules {
				if name, ok := strings.CutPrefix(r, "capability "); ok {
					ruled = append(ruled, strings.TrimSuffix(name, ","))
				}
			}
			slices.Sort(granted)
			slices.Sort(ruled)
			if !slices.Equal(granted, ruled) {
				t.Errorf("capability rules %v, want the granted %v:\n%s", ruled, granted, p)
			}
			for _, f := range tr.NetworkFamilies {
				if !f.Setup && !rules["network "+f.Family+" "+f.Type+","] {
					t.Errorf("no rule for the %s %s socket the app made:\n%s", f.Family, f.Type, p)
				}
			}
		})
	}
}

// assertGone checks that the container id, its task and its snapshot are
// gone, and no program of ours is attached. (Other tests may run beside
// this one in the namespace: assertClean would see their containers.)
func assertGone(t *testing.T, addr, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no container id in the report")
	}
	for _, what := range [][]string{{"containers", "ls", "-q"}, {"tasks", "ls"}, {"snapshots", "ls"}} {
		out, err := exec.Command("ctr", append([]string{"-a", addr, "-n", testNamespace}, what...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %v: %v\n%s", what, err, out)
		}
		if strings.Contains(string(out), id) {
			t.Errorf("left behind (%s): %s", what[0], id)
		}
	}
	if names, err := tracer.Attached(); err != nil || len(names) > 0 {
		t.Errorf("programs still attached: %v %v", names, err)
	}
}
