package container

import "testing"

func TestPodOwner(t *testing.T) {
	for _, tc := range []struct {
		name, pod string
		labels    map[string]string
		want      string
	}{
		{"app.kubernetes.io/name", "web-5d9c7b-x2x4q", map[string]string{"app.kubernetes.io/name": "shop", "app": "web"}, "shop"},
		{"app", "web-5d9c7b-x2x4q", map[string]string{"app": "web"}, "web"},
		{"replicaset suffix", "front-end-5d9c7b-x2x4q", map[string]string{"pod-template-hash": "5d9c7b"}, "front-end"},
		{"hash not in the name", "front-end-0", map[string]string{"pod-template-hash": "5d9c7b"}, "front-end-0"},
		{"a bare pod", "debug", nil, "debug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodOwner(tc.pod, tc.labels); got != tc.want {
				t.Errorf("PodOwner(%s, %v) = %s, want %s", tc.pod, tc.labels, got, tc.want)
			}
		})
	}
}

func TestSelector(t *testing.T) {
	sel, err := ParseSelector("app=web, tier=front")
	if err != nil {
		t.Fatal(err)
	}
	if !Matches(map[string]string{"app": "web", "tier": "front", "x": "y"}, sel) ||
		Matches(map[string]string{"app": "web"}, sel) || Matches(map[string]string{"app": "web", "tier": ""}, sel) {
		t.Error("selector app=web,tier=front matched wrongly")
	}
	for _, bad := range []string{"", "app", "=web", "app=web,"} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("ParseSelector(%q) took it", bad)
		}
	}
}
