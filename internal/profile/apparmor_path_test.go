package profile

import "testing"

func TestNormalisePath(t *testing.T) {
	for _, tc := range []struct {
		name, path, want string
	}{
		{"root", "/", "/"},
		{"plain", "/etc/passwd", "/etc/passwd"},
		{"versions stay", "/usr/lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so",
			"/usr/lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so"},
		{"short numbers stay", "/etc/rc2.d/S01foo-2024.conf", "/etc/rc2.d/S01foo-2024.conf"},
		{"proc pid", "/proc/42/status", "/proc/@{pid}/status"},
		{"proc pid only", "/proc/42", "/proc/@{pid}"},
		{"proc self", "/proc/self/maps", "/proc/@{pid}/maps"},
		{"proc thread", "/proc/42/task/43/comm", "/proc/@{pid}/task/@{tid}/comm"},
		{"proc thread-self", "/proc/thread-self/fd", "/proc/@{pid}/task/@{tid}/fd"},
		{"proc sys stays", "/proc/sys/kernel/ngroups_max", "/proc/sys/kernel/ngroups_max"},
		{"proc task of non-pid", "/proc/sys/task/12", "/proc/sys/task/[0-9]*"},
		{"sysfs devices", "/sys/devices/system/cpu/cpu0/online", "/sys/devices/**"},
		{"sysfs devices dir", "/sys/devices", "/sys/devices/**"},
		{"other sysfs", "/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu.max"},
		{"digit component", "/dev/pts/0", "/dev/pts/[0-9]*"},
		{"digit component top level", "/12345/x", "/12345/x"},
		{"digit run in name", "/tmp/app-1700000000.log", "/tmp/app-[0-9]*.log"},
		{"two digit runs", "/var/log/12345-67890.txt", "/var/log/[0-9]*-[0-9]*.txt"},
		{"uuid in name", "/run/app/3f2504e0-4f89-11d3-9a0c-0305e82c3301.sock", "/run/app/*.sock"},
		{"uuid component deep", "/var/lib/app/3F2504E0-4F89-11D3-9A0C-0305E82C3301/db", "/var/lib/app/*/db"},
		{"uuid component shallow", "/var/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/var/3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{"uuid component depth 2", "/var/lib/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/var/lib/*"},
		{"hash", "/root/.cache/pip/1f2e3d4c5b6a79880f1e2d3c4b5a6978", "/root/.cache/pip/*"},
		{"hash with suffix", "/srv/assets/main.0123456789abcdef01.js", "/srv/assets/main.*.js"},
		{"hex letters only", "/srv/deadbeefcafebabedeadbeef", "/srv/deadbeefcafebabedeadbeef"},
		{"hex inside a word is no hash", "/srv/x0123456789abcdef0123", "/srv/x[0-9]*abcdef0123"},
		{"long digits are not a hash", "/srv/cache/12345678901234567890.bin", "/srv/cache/[0-9]*.bin"},
		{"glob chars are literal", "/srv/a*b?[c]", `"/srv/a\*b\?\[c\]"`},
		{"escaped next to glob", "/srv/a*-123456", `"/srv/a\*-[0-9]*"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := normalisePath(tc.path).String(); got != tc.want {
				t.Errorf("normalisePath(%q) = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/tmp/x (deleted)", "/tmp/x", true},
		{"/a/./b/../c//d/", "/a/c/d", true},
		{"/", "/", true},
		{"pipe:[1234]", "", false},
		{"anon_inode:[eventfd]", "", false},
		{"memfd:x (deleted)", "", false},
		{"", "", false},
	} {
		got, ok := cleanPath(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestQuoting(t *testing.T) {
	for _, tc := range []struct {
		name, path, want string
	}{
		{"safe", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{"plus", "/usr/lib/gcc/c++", "/usr/lib/gcc/c++"},
		{"space", "/srv/my files/a b", `"/srv/my files/a b"`},
		{"quote", `/srv/say "hi"`, `"/srv/say \"hi\""`},
		{"backslash", `/srv/a\b`, `"/srv/a\134b"`},
		{"trailing backslash", `/srv/a\`, `"/srv/a\134"`},
		{"variable", "/srv/@{HOME}", `"/srv/\@\{HOME\}"`},
		{"at alone", "/srv/user@host", `"/srv/user\@host"`},
		{"glob chars", "/srv/*?[]{}^,", `"/srv/\*\?\[\]\{\}\^\,"`},
		{"comment char", "/srv/#x", `"/srv/#x"`},
		{"unicode", "/srv/ファイル", `"/srv/ファイル"`},
		{"tab", "/srv/a\tb", `"/srv/a\011b"`},
		{"newline", "/srv/a\nb", `"/srv/a\012b"`},
		{"delete char", "/srv/a\x7fb", `"/srv/a\177b"`},
		{"invalid utf-8", "/srv/a\xe9b", `"/srv/a\351b"`},
		{"colon", "/srv/a:b", `"/srv/a:b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := normalisePath(tc.path).String(); got != tc.want {
				t.Errorf("%q renders as %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

func TestDirRendering(t *testing.T) {
	for _, tc := range []struct {
		path, want string
	}{
		{"/", "/"},
		{"/srv", "/srv/"},
		{"/my dir", `"/my dir/"`},
		{"/sys/devices/x", "/sys/devices/**"},
		{"/proc/1", "/proc/@{pid}/"},
	} {
		e := normalisePath(tc.path)
		e.dir = true
		if got := e.String(); got != tc.want {
			t.Errorf("directory %q renders as %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestIsLibrary(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", true},
		{"/lib/ld-linux-aarch64.so.1", true},
		{"/usr/local/lib/libpython3.12.so.1.0", true},
		{"/app/venv/lib/python3.12/site-packages/_cffi_backend.cpython-312-x86_64-linux-gnu.so", true},
		{"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", true},
		{"/lib64/ld-linux-x86-64.so.2", true},
		{"/usr/lib/aarch64-linux-gnu/libcrypto.so.3", true},
		{"/usr/lib/x86_64-linux-gnu/some-loader", true}, // straight in a library directory
		{"/usr/lib/os-release", false},
		{"/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", false},
		{"/usr/lib/python3.12/os.py", false},
		{"/etc/ld.so.cache", false},
		{"/srv/notes.so.txt", false},
	} {
		if got := isLibrary(tc.path); got != tc.want {
			t.Errorf("isLibrary(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
