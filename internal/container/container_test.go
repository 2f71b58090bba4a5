package container

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/image"
)

func TestParseMount(t *testing.T) {
	wd, _ := os.Getwd()
	cases := []struct {
		spec    string
		want    Mount
		wantErr string
	}{
		{spec: "/srv/data:/data", want: Mount{"/srv/data", "/data", false, "rprivate"}},
		{spec: "/srv/data/:/data/:ro", want: Mount{"/srv/data", "/data", true, "rprivate"}},
		{spec: "/srv:/srv:rw,rslave", want: Mount{"/srv", "/srv", false, "rslave"}},
		{spec: "/srv:/srv:Z,ro", want: Mount{"/srv", "/srv", true, "rprivate"}},
		{spec: "./conf:/etc/app", want: Mount{filepath.Join(wd, "conf"), "/etc/app", false, "rprivate"}},
		{spec: "/cache", want: Mount{"", "/cache", false, "rprivate"}},
		{spec: "", wantErr: "empty"},
		{spec: "data:/data", wantErr: "named volumes"},
		{spec: "/a:data", wantErr: "not absolute"},
		{spec: ":/data", wantErr: "empty host path"},
		{spec: "/a:", wantErr: "empty container path"},
		{spec: "/a:/", wantErr: "over /"},
		{spec: "/a:/b:", wantErr: "empty options"},
		{spec: "/a:/b:rx", wantErr: `unknown option "rx"`},
		{spec: "/a:/b:ro,rw", wantErr: "more than once"},
		{spec: "/a:/b:shared,slave", wantErr: "propagation"},
		{spec: "/a:/b:ro:x", wantErr: "HOST:CONTAINER"},
		{spec: "relative", wantErr: "not absolute"},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			got, err := ParseMount(c.spec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseHostEntry(t *testing.T) {
	for _, c := range []struct{ in, host, ip, err string }{
		{in: "db:10.0.0.5", host: "db", ip: "10.0.0.5"},
		{in: "db=10.0.0.5", host: "db", ip: "10.0.0.5"},
		{in: "v6:::1", host: "v6", ip: "::1"},
		{in: "v6:[fe80::1]", host: "v6", ip: "fe80::1"},
		{in: "db", err: "HOST:IP"},
		{in: ":1.2.3.4", err: "bad host"},
		{in: "db:host-gateway", err: "not an IP"},
	} {
		e, err := ParseHostEntry(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || e.Host != c.host || e.IP.String() != c.ip {
			t.Errorf("%q: %+v %v", c.in, e, err)
		}
	}
}

func TestParsePort(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Port
		err  bool
	}{
		{in: "80", want: []Port{{80, "tcp"}}},
		{in: "53/udp", want: []Port{{53, "udp"}}},
		{in: "8000-8002/TCP", want: []Port{{8000, "tcp"}, {8001, "tcp"}, {8002, "tcp"}}},
		{in: "0", err: true},
		{in: "65536", err: true},
		{in: "http", err: true},
		{in: "80/icmp", err: true},
		{in: "90-80", err: true},
	} {
		got, err := ParsePort(c.in)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("%q: %v %v", c.in, got, err)
		}
	}
	if got := sortPorts([]Port{{9000, "udp"}, {80, "tcp"}, {9000, "tcp"}, {80, "tcp"}}); !slices.Equal(got, []Port{{80, "tcp"}, {9000, "tcp"}, {9000, "udp"}}) {
		t.Errorf("sortPorts: %v", got)
	}
}

func TestEtcFiles(t *testing.T) {
	e, _ := ParseHostEntry("db:10.1.2.3")
	h := string(hostsFile(nil, "box", []HostEntry{e}))
	for _, w := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost", "127.0.0.1\tbox\n", "10.1.2.3\tdb\n"} {
		if !strings.Contains(h, w) {
			t.Errorf("hosts %q lacks %q", h, w)
		}
	}
	h = string(hostsFile([]byte("1.1.1.1 host-entry"), "box", []HostEntry{e}))
	if h != "1.1.1.1 host-entry\n10.1.2.3\tdb\n" {
		t.Errorf("host network hosts %q", h)
	}

	host := []byte("# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example lab.example\noptions edns0 trust-ad\n")
	cases := []struct {
		name            string
		servers, search []string
		private         bool
		want, notWant   []string
	}{
		{"private drops loopback", nil, nil, true,
			[]string{"nameserver 192.0.2.1\n", "search corp.example lab.example\n", "options edns0 trust-ad\n"},
			[]string{"127.0.0.53"}},
		{"host keeps loopback", nil, nil, false, []string{"nameserver 127.0.0.53\n", "nameserver 192.0.2.1\n"}, nil},
		{"overrides", []string{"198.51.100.7"}, []string{"test.example"}, true,
			[]string{"nameserver 198.51.100.7\n", "search test.example\n"},
			[]string{"192.0.2.1", "corp.example"}},
	}
	for _, c := range cases {
		got := string(resolvConf(host, c.servers, c.search, c.private))
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: %q has %q", c.name, got, w)
			}
		}
	}
}

func TestLogs(t *testing.T) {
	var stream bytes.Buffer
	r := newLogRing(3, &stream, "> ")
	out := &lineWriter{ring: r, stream: "stdout"}
	errw := &lineWriter{ring: r, stream: "stderr"}
	out.Write([]byte("one\ntw"))
	errw.Write([]byte("oops\r\n"))
	out.Write([]byte("o\nthree\nfour\npart"))
	want := []LogLine{{"stdout", "two"}, {"stdout", "three"}, {"stdout", "four"}}
	if got := r.snapshot(); !slices.Equal(got, want) {
		t.Errorf("ring %v, want %v", got, want)
	}
	if stream.String() != "> one\n> oops\n> two\n> three\n> four\n" {
		t.Errorf("stream %q", stream.String())
	}
	out.flush()
	if got := r.snapshot(); got[2] != (LogLine{"stdout", "part"}) {
		t.Errorf("after flush %v", got)
	}
	long := &lineWriter{ring: newLogRing(5, nil, ""), stream: "stdout"}
	long.Write(bytes.Repeat([]byte("x"), maxLineLen+10))
	if got := long.ring.snapshot(); len(got) != 1 || len(got[0].Text) != maxLineLen {
		t.Errorf("long line split into %d lines", len(got))
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1", "B=2"}, []string{"A=one", "C=3", "PATH=/usr/bin:/bin"})
	if want := []string{"PATH=/usr/bin:/bin", "A=one", "B=2", "C=3"}; !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestPlan(t *testing.T) {
	img := &image.Image{Name: "app"}
	img.Config.Config.Entrypoint, img.Config.Config.Cmd = []string{"/entry"}, []string{"serve"}
	img.Config.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	t.Setenv("SLIMTRACE_PLAN_TEST", "from-host")
	cases := []struct {
		name string
		cfg  RunConfig
		args []string
		env  []string
	}{
		{"image as is", RunConfig{}, []string{"/entry", "serve"}, nil},
		{"cmd", RunConfig{Cmd: []string{"debug"}}, []string{"/entry", "debug"}, nil},
		{"entrypoint drops cmd", RunConfig{Entrypoint: []string{"/bin/sh"}}, []string{"/bin/sh"}, nil},
		{"both", RunConfig{Entrypoint: []string{}, Cmd: []string{"/bin/true"}}, []string{"/bin/true"}, nil},
		{"env", RunConfig{Env: []string{"A=1", "SLIMTRACE_PLAN_TEST", "SLIMTRACE_UNSET_VAR"}}, []string{"/entry", "serve"}, []string{"A=1", "SLIMTRACE_PLAN_TEST=from-host"}},
	}
	for _, c := range cases {
		p, err := plan(img, c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(p.args, c.args) || !slices.Equal(p.env, c.env) || p.network != NetworkPrivate {
			t.Errorf("%s: args %q env %q network %q", c.name, p.args, p.env, p.network)
		}
	}
	p, err := plan(img, RunConfig{Expose: []string{"9000/udp", "8080"}, Network: "host"})
	if err != nil || !slices.Equal(p.ports, []Port{{8080, "tcp"}, {9000, "udp"}}) || p.network != NetworkHost {
		t.Errorf("ports %v network %q: %v", p.ports, p.network, err)
	}
	for _, cfg := range []RunConfig{
		{Env: []string{"=x"}},
		{Hostname: "has space"},
		{DNSSearch: []string{""}},
		{Entrypoint: []string{}},
	} {
		if _, err := plan(img, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestHealthcheckArgs(t *testing.T) {
	for _, c := range []struct {
		test []string
		want []string
	}{
		{[]string{"CMD", "/hc", "-q"}, []string{"/hc", "-q"}},
		{[]string{"CMD-SHELL", "curl -f localhost || exit 1"}, []string{"/bin/sh", "-c", "curl -f localhost || exit 1"}},
		{[]string{"NONE"}, nil},
		{[]string{"CMD"}, nil},
		{nil, nil},
	} {
		if got := HealthcheckArgs(&dockerspec.HealthcheckConfig{Test: c.test}); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.test, got, c.want)
		}
	}
	if HealthcheckArgs(nil) != nil {
		t.Error("no healthcheck gives args")
	}
}

func TestListeners(t *testing.T) {
	// Lines of a real /proc/net/tcp6 and tcp: a listener on 8080 (all
	// addresses), one on 127.0.0.1:6379, an established connection.
	table := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41275 1 0000000000000000 100 0 0 10 0
   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100        0 52011 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 52999 1 0000000000000000 20 4 30 10 -1
`
	got, err := listeners(strings.NewReader(table))
	want := []listener{{8080, "41275"}, {6379, "52011"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("listeners: %+v %v, want %+v", got, err, want)
	}
}
