package main

import (
	"testing"

	"github.com/alecthomas/kong"
)

func TestInfoParse(t *testing.T) {
	t.Setenv("CONTAINERD_ADDRESS", "/run/x.sock")
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"info", "docker-archive:app.tar"}, true},
		{[]string{"info", "--output", "json", "--no-trunc", "--copy-meta-artifacts", "out", "--namespace", "moby", "nginx"}, true},
		{[]string{"info", "--output", "yaml", "nginx"}, false},
		{[]string{"info"}, false},
	}
	for _, c := range cases {
		var cl cli
		p, err := kong.New(&cl, kong.Name("slimtrace"), kong.Exit(func(int) {}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Parse(c.args)
		if (err == nil) != c.ok {
			t.Errorf("%v: err %v, want ok=%v", c.args, err, c.ok)
		}
		if err == nil && cl.Info.Containerd != "/run/x.sock" {
			t.Errorf("%v: --containerd %q, want $CONTAINERD_ADDRESS", c.args, cl.Info.Containerd)
		}
	}
}
