package compose

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func load(t *testing.T, o Options) *Project {
	t.Helper()
	p, err := Load(context.Background(), o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func names(services []Service) []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Name)
	}
	return out
}

func mustService(t *testing.T, p *Project, name string) Service {
	t.Helper()
	s, ok := p.Service(name)
	if !ok {
		t.Fatalf("no service %q in %v", name, names(p.Services))
	}
	return s
}

func equal[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func TestLoad(t *testing.T) {
	p := load(t, Options{
		Files:   []string{"testdata/app/compose.yaml"},
		Environ: []string{"FROM_PROCESS=env", "MODE=prod"},
	})
	if p.Name != "shop" {
		t.Errorf("name %q, want shop", p.Name)
	}
	// migrate and debug are kept out by their profiles (debug's build: with them).
	equal(t, "start order", names(p.Services), []string{"cache", "db", "api", "web"})

	web := mustService(t, p, "web")
	abs, err := filepath.Abs("testdata/app/site")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"command", web.Command, []string{"python3", "-m", "http.server", "8000"}},
		{"entrypoint", web.Entrypoint, []string{"/usr/bin/env"}},
		// environment: beats env_file; an unset variable without a value is left out.
		{"environment", web.Environment, []string{"FROM_FILE=yes", "FROM_PROCESS=env", "GREETING=", "MODE=prod"}},
		{"ports", web.Ports, []string{"8000/tcp", "9000/udp", "7000/tcp", "7001/tcp"}},
	} {
		equal(t, "web "+c.what, c.got, c.want)
	}
	if web.Image != "example/web:1.0" || web.WorkingDir != "/srv" || web.User != "1000:1000" || web.Hostname != "web.local" {
		t.Errorf("web = image %q, working dir %q, user %q, hostname %q", web.Image, web.WorkingDir, web.User, web.Hostname)
	}
	equal(t, "web volumes", web.Volumes, []Mount{
		{Type: Bind, Source: abs, Target: "/srv/site", ReadOnly: true},
		{Type: Volume, Source: "cache", Target: "/var/cache/web"},
		{Type: Volume, Target: "/tmp/scratch"},
	})
	var short []string
	for _, m := range web.Volumes {
		short = append(short, m.String())
	}
	equal(t, "web volumes, short", short, []string{abs + ":/srv/site:ro", "cache:/var/cache/web", "/tmp/scratch"})
	equal(t, "web depends_on", web.DependsOn, []Dependency{{Service: "api", Condition: ServiceHealthy, Required: true}})
	if api := mustService(t, p, "api"); api.Command != nil || api.Entrypoint != nil {
		t.Errorf("api command %q entrypoint %q, want nil (the image's)", api.Command, api.Entrypoint)
	}
	if web.Healthcheck != nil {
		t.Errorf("web healthcheck %+v, want none", web.Healthcheck)
	}
	equal(t, "api depends_on", mustService(t, p, "api").DependsOn, []Dependency{
		{Service: "cache", Condition: ServiceStarted, Required: true},
		{Service: "db", Condition: ServiceStarted, Required: true},
	})
}

func TestInterpolation(t *testing.T) {
	for _, c := range []struct {
		name            string
		o               Options
		image, greeting string
	}{
		{"defaults", Options{}, "example/web:1.0", "GREETING="},
		{"env file", Options{EnvFiles: []string{"testdata/app/vars.env"}}, "example/web:2.5", "GREETING=hello from vars.env"},
		{"process environment wins", Options{EnvFiles: []string{"testdata/app/vars.env"}, Environ: []string{"WEB_TAG=3"}},
			"example/web:3", "GREETING=hello from vars.env"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.Files = []string{"testdata/app/compose.yaml"}
			web := mustService(t, load(t, c.o), "web")
			if web.Image != c.image {
				t.Errorf("image %q, want %q", web.Image, c.image)
			}
			if !slices.Contains(web.Environment, c.greeting) {
				t.Errorf("environment %q lacks %q", web.Environment, c.greeting)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	p := load(t, Options{Files: []string{"testdata/app/compose.yaml"}, Profiles: []string{"tools"}})
	equal(t, "start order", names(p.Services), []string{"cache", "db", "api", "migrate", "web"})
	p = load(t, Options{Files: []string{"testdata/app/compose.yaml"}, Environ: []string{"COMPOSE_PROFILES=tools"}})
	equal(t, "start order, COMPOSE_PROFILES", names(p.Services), []string{"cache", "db", "api", "migrate", "web"})

	_, err := Load(context.Background(), Options{Files: []string{"testdata/app/compose.yaml"}, Profiles: []string{"debug"}})
	want := `compose service "debug": key "build" is not supported by slimtrace (images are not built; build it first and name it)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("with profile debug: %v, want %s", err, want)
	}

	// An optional dependency a profile keeps out is skipped.
	p = load(t, Options{Files: []string{"testdata/optional.yaml"}})
	equal(t, "optional, start order", names(p.Services), []string{"web"})
	equal(t, "optional, web depends_on", mustService(t, p, "web").DependsOn, nil)
	p = load(t, Options{Files: []string{"testdata/optional.yaml"}, Profiles: []string{"metrics"}})
	equal(t, "optional with metrics, start order", names(p.Services), []string{"metrics", "web"})
}

func TestHealthcheck(t *testing.T) {
	p := load(t, Options{Files: []string{"testdata/app/compose.yaml"}})
	for _, c := range []struct {
		service string
		want    *dockerspec.HealthcheckConfig
	}{
		{"api", &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "curl -f http://127.0.0.1:9000/healthz"},
			Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 4}},
		{"db", &dockerspec.HealthcheckConfig{Test: []string{"CMD", "pg_isready"}}},
		{"cache", &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}},
		{"web", nil},
	} {
		t.Run(c.service, func(t *testing.T) {
			got := mustService(t, p, c.service).Healthcheck
			if (got == nil) != (c.want == nil) {
				t.Fatalf("healthcheck %+v, want %+v", got, c.want)
			}
			if got != nil && (!slices.Equal(got.Test, c.want.Test) || got.Interval != c.want.Interval ||
				got.Timeout != c.want.Timeout || got.StartPeriod != c.want.StartPeriod || got.Retries != c.want.Retries) {
				t.Errorf("healthcheck %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	p := load(t, Options{Files: []string{"testdata/app/compose.yaml", "testdata/app/override.yaml"}})
	web := mustService(t, p, "web")
	equal(t, "web command", web.Command, []string{"serve", "--fast"})
	if !slices.Contains(web.Environment, "EXTRA=1") || !slices.Contains(web.Environment, "MODE=dev") {
		t.Errorf("web environment %q: want EXTRA=1 merged beside MODE=dev", web.Environment)
	}
	if db := mustService(t, p, "db"); db.Image != "example/db:17" {
		t.Errorf("db image %q, want the override's", db.Image)
	}
}

func TestExtends(t *testing.T) {
	w := mustService(t, load(t, Options{Files: []string{"testdata/app/extends.yaml"}}), "worker")
	if w.Image != "example/base:1" || w.User != "nobody" {
		t.Errorf("worker image %q user %q, want base's", w.Image, w.User)
	}
	equal(t, "worker command", w.Command, []string{"work"})
	equal(t, "worker environment", w.Environment, []string{"LOG=debug"})
}

func TestInclude(t *testing.T) {
	p := load(t, Options{Files: []string{"testdata/include.yaml"}})
	equal(t, "start order", names(p.Services), []string{"worker", "front"})
}

func TestTarget(t *testing.T) {
	p := load(t, Options{Files: []string{"testdata/app/compose.yaml"}, Profiles: []string{"tools"}})
	for _, c := range []struct {
		name, target     string
		include, exclude []string
		deps             []string
		err              string
	}{
		{name: "all deps", target: "web", deps: []string{"cache", "db", "api"}},
		{name: "leaf", target: "db"},
		{name: "include only", target: "web", include: []string{"api", "db"}, deps: []string{"db", "api"}},
		{name: "exclude drops what only it needs", target: "web", exclude: []string{"api"}},
		{name: "exclude keeps what others need", target: "migrate", exclude: []string{"db"}},
		{name: "exclude one of two", target: "api", exclude: []string{"cache"}, deps: []string{"db"}},
		{name: "include and exclude", target: "web", include: []string{"api", "db"}, exclude: []string{"db"}, deps: []string{"api"}},
		{name: "not a dependency", target: "api", include: []string{"web"}, err: `compose service "web" is not a dependency of "api"`},
		{name: "excluding the target", target: "api", exclude: []string{"api"}, err: `compose service "api" is the target`},
		{name: "unknown target", target: "nope", err: `no compose service "nope" (services: cache, db, api, migrate, web)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			target, deps, err := p.Target(c.target, c.include, c.exclude)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if target.Name != c.target {
				t.Errorf("target %q", target.Name)
			}
			equal(t, "deps", names(deps), c.deps)
		})
	}

	p = load(t, Options{Files: []string{"testdata/app/compose.yaml"}})
	if _, _, err := p.Target("migrate", nil, nil); err == nil || !strings.Contains(err.Error(), "disabled by its profiles") {
		t.Errorf("disabled target: %v", err)
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []struct{ name, service, err string }{
		// compose-go's own consistency check comes first.
		{"no image", "environment: {A: '1'}", `service "web" has neither an image nor a build context specified`},
		{"build", "build: .", `compose service "web": key "build" is not supported by slimtrace (images are not built; build it first and name it)`},
		{"network_mode", "network_mode: host", `key "network_mode" is not supported`},
		{"cap_add", "cap_add: [NET_ADMIN]", `key "cap_add" is not supported`},
		{"cap_drop", "cap_drop: [ALL]", `key "cap_drop" is not supported`},
		{"privileged", "privileged: true", `key "privileged" is not supported`},
		{"devices", "devices: [/dev/fuse]", `key "devices" is not supported`},
		{"deploy", "deploy: {replicas: 2}", `key "deploy" is not supported`},
		{"secrets", "secrets: [s]", `key "secrets" is not supported`},
		{"configs", "configs: [c]", `key "configs" is not supported`},
		{"tmpfs", "tmpfs: /run", `key "tmpfs" is not supported`},
		{"security_opt", "security_opt: [no-new-privileges]", `key "security_opt" is not supported`},
		{"init", "init: true", `compose service "web": key "init" is not supported by slimtrace (slimtrace would ignore it)`},
		{"volume type", "volumes: [{type: tmpfs, target: /x}]", `type "tmpfs" is not supported`},
		{"bind propagation", "volumes: [{type: bind, source: /a, target: /b, bind: {propagation: shared}}]",
			`key "volumes.bind.propagation" is not supported`},
		{"other network", "networks: [back]", `compose service "web": key "networks.back" is not supported by slimtrace (side services share one network namespace: only the default network)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			image := "    image: example/web\n"
			if c.name == "no image" || c.name == "build" {
				image = ""
			}
			yaml := "services:\n  web:\n" + image + "    " + c.service + "\n"
			if strings.Contains(c.service, "secrets") {
				yaml += "secrets:\n  s:\n    file: ./s\n"
			}
			if strings.Contains(c.service, "configs") {
				yaml += "configs:\n  c:\n    file: ./c\n"
			}
			if strings.Contains(c.service, "back") {
				yaml += "networks:\n  back: {}\n"
			}
			f := filepath.Join(dir, "compose.yaml")
			if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), Options{Files: []string{f}})
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s\nerror: %v\nwant: %s", yaml, err, c.err)
			}
		})
	}
}

func TestCycle(t *testing.T) {
	_, err := Load(context.Background(), Options{Files: []string{"testdata/cycle.yaml"}})
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("error %v, want a cycle", err)
	}
}

// The fixture pair of testdata/apps/redis-app.
func TestRedisApp(t *testing.T) {
	p := load(t, Options{Files: []string{"../../testdata/apps/redis-app/compose.yaml"}})
	web, deps, err := p.Target("web", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "deps", names(deps), []string{"redis"})
	equal(t, "web depends_on", web.DependsOn, []Dependency{{Service: "redis", Condition: ServiceHealthy, Required: true}})
	equal(t, "web environment", web.Environment, []string{"REDIS_HOST=redis"})
	equal(t, "web ports", web.Ports, []string{"8080/tcp"})
	if h := deps[0].Healthcheck; h == nil || !slices.Equal(h.Test, []string{"CMD", "redis-cli", "ping"}) {
		t.Errorf("redis healthcheck %+v", h)
	}
}
