package session

import (
	"slices"
	"testing"
)

func TestParseLinkSidecar(t *testing.T) {
	for in, want := range map[string]Link{
		"db":                  {"db", "db"},
		"db:cache":            {"db", "cache"},
		"container:abc":       {"container:abc", "abc"},
		"container:abc:redis": {"container:abc", "redis"},
		"pod:default/web":     {"pod:default/web", "web"},
		"pod:default/web:api": {"pod:default/web", "api"},
	} {
		if got, err := ParseLink(in); err != nil || got != want {
			t.Errorf("ParseLink(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ":x", "container:", "db:a/b"} {
		if _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q): no error", bad)
		}
	}
	sc, err := ParseSidecar("docker://reg:5000/pg:16,name=db,env=POSTGRES_PASSWORD=a,b,env=X=1,wait=log:ready to accept, now")
	if err != nil || sc.Image != "docker://reg:5000/pg:16" || sc.Name != "db" ||
		!slices.Equal(sc.Run.Env, []string{"POSTGRES_PASSWORD=a,b", "X=1"}) || sc.Wait.Kind != WaitLog ||
		sc.Wait.Log.String() != "ready to accept, now" {
		t.Errorf("ParseSidecar: %+v %v", sc, err)
	}
	for _, bad := range []string{"", "img,wait=port:x", "img,wait=tcp:1", "img,name=a b", "img,env=novalue", "img,oops"} {
		if _, err := ParseSidecar(bad); err == nil {
			t.Errorf("ParseSidecar(%q): no error", bad)
		}
	}
}
