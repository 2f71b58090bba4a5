package target

import (
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseLayers(t *testing.T) {
	blob := []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:d1","sha256:d2"]},"history":[
		{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / "},
		{"created":"2024-01-01T00:00:01Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true},
		{"created_by":"RUN /bin/sh -c make # buildkit","comment":"buildkit.dockerfile.v0","author":"me"},
		{"created_by":"orphan: no layer left"}]}`)
	manifest := []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: "sha256:c1", Size: 100},
		{MediaType: ocispec.MediaTypeImageLayer, Digest: "sha256:c2", Size: 200},
	}
	history, layers, err := parseLayers(blob, manifest)
	if err != nil {
		t.Fatal(err)
	}
	wantLayers := []Layer{
		{Digest: "sha256:c1", DiffID: "sha256:d1", Size: 100, MediaType: ocispec.MediaTypeImageLayerGzip},
		{Digest: "sha256:c2", DiffID: "sha256:d2", Size: 200, MediaType: ocispec.MediaTypeImageLayer},
	}
	if len(layers) != len(wantLayers) {
		t.Fatalf("layers %+v", layers)
	}
	for i := range layers {
		if layers[i] != wantLayers[i] {
			t.Errorf("layer %d: %+v, want %+v", i, layers[i], wantLayers[i])
		}
	}
	wantHistory := []History{
		{Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / ", Layer: 0},
		{Created: time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC), CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`, EmptyLayer: true, Layer: -1},
		{CreatedBy: "RUN /bin/sh -c make # buildkit", Comment: "buildkit.dockerfile.v0", Author: "me", Layer: 1},
		{CreatedBy: "orphan: no layer left", Layer: -1},
	}
	if len(history) != len(wantHistory) {
		t.Fatalf("history %+v", history)
	}
	for i := range history {
		if !history[i].Created.Equal(wantHistory[i].Created) {
			t.Errorf("step %d: created %v, want %v", i, history[i].Created, wantHistory[i].Created)
		}
		history[i].Created = wantHistory[i].Created
		if history[i] != wantHistory[i] {
			t.Errorf("step %d: %+v, want %+v", i, history[i], wantHistory[i])
		}
	}

	// No history, more layers than diff IDs: layers still listed.
	history, layers, err = parseLayers([]byte(`{"rootfs":{"diff_ids":["sha256:d1"]}}`), manifest)
	if err != nil || len(history) != 0 || len(layers) != 2 || layers[1].DiffID != "" {
		t.Errorf("no history: %+v %+v %v", history, layers, err)
	}
	if _, _, err := parseLayers([]byte(`{"history":{}}`), nil); err == nil {
		t.Error("bad history: no error")
	}
}
