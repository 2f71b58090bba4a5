package fileset

import (
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, path string
		match               bool
	}{
		{"exact", "/etc/passwd", "/etc/passwd", true},
		{"exact other", "/etc/passwd", "/etc/group", false},
		{"star one level", "/app/*.log", "/app/a.log", true},
		{"star not deeper", "/app/*.log", "/app/x/a.log", false},
		{"double star any depth", "/app/**/*.log", "/app/x/y/a.log", true},
		{"double star zero dirs", "/app/**/*.log", "/app/a.log", true},
		{"trailing double star", "/usr/share/doc/**", "/usr/share/doc/x/copyright", true},
		{"trailing double star the dir itself", "/usr/share/doc/**", "/usr/share/doc", true},
		{"trailing double star not a sibling", "/usr/share/doc/**", "/usr/share/docs", false},
		{"leading double star", "/**/__pycache__", "/usr/lib/python3/x/__pycache__", true},
		{"relative is any depth", "*.pyc", "/app/x/__pycache__/a.pyc", true},
		{"relative root level", "*.pyc", "/a.pyc", true},
		{"double doublestar", "/a/**/**/b", "/a/b", true},
		{"class", "/app/[ab].txt", "/app/b.txt", true},
		{"question", "/app/?.txt", "/app/ab.txt", false},
		{"root", "/**", "/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := compileGlob(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.match(tc.path); got != tc.match {
				t.Errorf("%s ~ %s = %v", tc.pattern, tc.path, got)
			}
		})
	}
	for _, bad := range []string{"", "  ", "/a/[x", "/a/b\\"} {
		if _, err := compileGlob(bad); err == nil {
			t.Errorf("compileGlob(%q): no error", bad)
		}
	}
}

func TestParseIncludePath(t *testing.T) {
	mode := func(m fs.FileMode) *fs.FileMode { return &m }
	id := func(n int) *int { return &n }
	for _, tc := range []struct {
		name, in string
		want     IncludePath
		err      string
	}{
		{"path", "/app/data", IncludePath{Path: "/app/data"}, ""},
		{"cleaned", "/app//data/", IncludePath{Path: "/app/data"}, ""},
		{"mode", "/etc/app.conf:0600", IncludePath{Path: "/etc/app.conf", Override: &Override{Mode: mode(0o600)}}, ""},
		{"all", "/app/data:0770#1000#1001",
			IncludePath{Path: "/app/data", Override: &Override{Mode: mode(0o770), UID: id(1000), GID: id(1001)}}, ""},
		{"owner only", "/app/run:#1000", IncludePath{Path: "/app/run", Override: &Override{UID: id(1000)}}, ""},
		{"gid only", "/app/run:##0", IncludePath{Path: "/app/run", Override: &Override{GID: id(0)}}, ""},
		{"special bits", "/usr/bin/x:4755",
			IncludePath{Path: "/usr/bin/x", Override: &Override{Mode: mode(0o755 | fs.ModeSetuid)}}, ""},
		{"sticky setgid", "/tmp:3777",
			IncludePath{Path: "/tmp", Override: &Override{Mode: mode(0o777 | fs.ModeSetgid | fs.ModeSticky)}}, ""},
		{"colon in the path", "/app/a:b", IncludePath{Path: "/app/a:b"}, ""},
		{"relative", "app/data", IncludePath{}, "not an absolute path"},
		{"bad mode", "/x:0999", IncludePath{}, "not an octal mode"},
		{"mode too big", "/x:17777", IncludePath{}, "not an octal mode"},
		{"too many fields", "/x:0755#1#2#3", IncludePath{}, "MODE#UID#GID"},
		{"empty fields", "/x:##", IncludePath{}, "empty MODE#UID#GID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIncludePath(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v %+v (%v), want %+v %+v", got, got.Override, err, tc.want, tc.want.Override)
			}
		})
	}
}

func TestParseIncludePathFile(t *testing.T) {
	got, err := ParseIncludePathFile(strings.NewReader("# data\n/app/data\n\n  /etc/x:0600  \n"))
	if err != nil || len(got) != 2 || got[0].Path != "/app/data" || *got[1].Override.Mode != 0o600 {
		t.Errorf("got %+v, %v", got, err)
	}
	if _, err := ParseIncludePathFile(strings.NewReader("/ok\nrelative\n")); err == nil ||
		!strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v", err)
	}
}

func TestShellCommands(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       [][]string
	}{
		{"simple", "curl -f http://localhost/", [][]string{{"curl", "-f", "http://localhost/"}}},
		{"or exit", "curl -fsS localhost:8000/healthz || exit 1", [][]string{{"curl", "-fsS", "localhost:8000/healthz"}, {"exit", "1"}}},
		{"redirections", "wget -qO- localhost >/dev/null 2>&1 && echo ok",
			[][]string{{"wget", "-qO-", "localhost"}, {"echo", "ok"}}},
		{"redirection with space", "pg_isready -U postgres > /tmp/out", [][]string{{"pg_isready", "-U", "postgres"}}},
		{"fd dup", "cmd 2>&1 | grep x", [][]string{{"cmd"}, {"grep", "x"}}},
		{"quotes", `sh -c 'exec "$@"' --  "/app/my script.sh"`, [][]string{{"sh", "-c", `exec "$@"`, "--", "/app/my script.sh"}}},
		{"assignments and exec", "FOO=1 BAR=x exec gosu app /app/run", [][]string{{"gosu", "app", "/app/run"}}},
		{"env", "env -i PATH=/bin python3 -m http.server", [][]string{{"env"}, {"python3", "-m", "http.server"}}},
		{"keywords", "if [ -f /x ]; then nginx -t; else exit 1; fi", [][]string{{"[", "-f", "/x", "]"}, {"nginx", "-t"}, {"exit", "1"}}},
		{"subshells", "(cd /app && ./run) & echo $(date)", [][]string{{"cd", "/app"}, {"./run"}, {"echo", "$(date)"}, {"date"}}},
		{"backquotes and variables", "echo `hostname` \"$HOME/x\" ${A:-/b}", [][]string{{"echo", "`hostname`", "$HOME/x", "${A:-/b}"}, {"hostname"}}},
		{"case", "case $1 in start) exec /app/run ;; *) echo no ;; esac", [][]string{{"/app/run"}, {"echo", "no"}}},
		{"function", "f() { curl -f localhost; }; f", [][]string{{"curl", "-f", "localhost"}, {"f"}}},
		{"while and negation", "while ! pg_isready; do sleep 1; done", [][]string{{"pg_isready"}, {"sleep", "1"}}},
		{"bash test and here string", "[[ -x /bin/a ]] && grep -q x <<< \"$(cat /etc/x)\"", [][]string{{"grep", "-q", "x"}, {"cat", "/etc/x"}}},
		{"continuation", "run \\\n  --flag \"a\\\"b\"", [][]string{{"run", "--flag", `a"b`}}},
		{"comment", "run # not this", [][]string{{"run"}}},
		{"escape", `printf a\ b`, [][]string{{"printf", "a b"}}},
		{"for loop skipped", "for i in 1 2; do ping -c1 x; done", [][]string{{"ping", "-c1", "x"}}},
		{"newlines", "a\nb", [][]string{{"a"}, {"b"}}},
		{"empty", "  ", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := shellCommands(tc.line); err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q (%v)\nwant %q", got, err, tc.want)
			}
		})
	}
}

func TestShellCommandsError(t *testing.T) {
	if got, err := shellCommands("curl 'localhost"); err == nil {
		t.Errorf("an unterminated quote parsed: %q", got)
	}
}

func TestUserAndNSS(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\n#comment:x:1:1::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nshort:x\n")
	for _, tc := range []struct {
		user, home string
		ok         bool
	}{
		{"app", "/home/app", true}, {"1000", "/home/app", true}, {"0", "/root", true}, {"nobody", "", false},
		{"short", "", false},
	} {
		u, ok := lookupUser(passwd, tc.user)
		if u.home != tc.home || ok != tc.ok {
			t.Errorf("lookupUser(%s) = %+v %v", tc.user, u, ok)
		}
	}
	conf := parseNsswitch([]byte("# c\npasswd:  files systemd\nhosts: files mdns4_minimal [NOTFOUND=return] dns myhostname\n" +
		"networks: files [ !UNAVAIL=return ] nis # tail\nbad line\n"))
	want := map[string][]string{"passwd": {"files", "systemd"}, "hosts": {"files", "mdns4_minimal", "dns", "myhostname"},
		"networks": {"files", "nis"}}
	if !reflect.DeepEqual(conf, want) {
		t.Errorf("parseNsswitch = %v", conf)
	}
	if !slices.Equal(nssDefaults["hosts"], []string{"dns", "files"}) {
		t.Error("glibc's hosts default")
	}
}
