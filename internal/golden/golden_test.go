package golden

import "testing"

func TestFirstDiff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want string
		line      int
		g, w      string
		differ    bool
	}{
		{name: "equal", got: "a\nb\n", want: "a\nb\n"},
		{name: "changed line", got: "a\nx\nc\n", want: "a\nb\nc\n", line: 2, g: `"x"`, w: `"b"`, differ: true},
		{name: "missing last newline", got: "a\nb", want: "a\nb\n", line: 3, g: "end of file", w: `""`, differ: true},
		{name: "extra line", got: "a\nb\nc\n", want: "a\nb", line: 3, g: `"c"`, w: "end of file", differ: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, g, w, differ := firstDiff([]byte(tc.got), []byte(tc.want))
			if line != tc.line || g != tc.g || w != tc.w || differ != tc.differ {
				t.Errorf("firstDiff = %d, %q, %q, %v; want %d, %q, %q, %v", line, g, w, differ, tc.line, tc.g, tc.w, tc.differ)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	Check(t, "hello.golden", []byte("hello\n"))
}
