package target

import (
	"encoding/json"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// History is one step of an image's build history, from its config.
type History struct {
	// Created is when the step ran; zero when the config does not say.
	Created time.Time
	// CreatedBy is the command or instruction that made the step, in the
	// building tool's words (docker's "/bin/sh -c #(nop)  CMD [...]",
	// BuildKit's "RUN /bin/sh -c ... # buildkit", or anything else).
	CreatedBy string
	Comment   string
	Author    string
	// EmptyLayer is set for steps that made no layer (CMD, ENV, ...).
	EmptyLayer bool
	// Layer is the index in Image.Layers of the layer the step made, or -1
	// for an empty-layer step and for steps the image has no layer left for.
	Layer int
}

// Layer is one layer of an image, bottom first.
type Layer struct {
	// Digest of the blob as stored (compressed, as a rule).
	Digest string
	// DiffID is the digest of the uncompressed tar, from the config's rootfs;
	// empty when the config lists fewer layers than the manifest.
	DiffID string
	// Size of the blob as stored, from the manifest.
	Size      int64
	MediaType string
}

// imageHistoryJSON is the part of the image config that records how the
// image was built.
type imageHistoryJSON struct {
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created    *time.Time `json:"created"`
		CreatedBy  string     `json:"created_by"`
		Comment    string     `json:"comment"`
		Author     string     `json:"author"`
		EmptyLayer bool       `json:"empty_layer"`
	} `json:"history"`
}

// parseLayers reads the layers and history of an image from its config blob
// and the layer descriptors of its manifest. The steps that are not empty
// layers made the layers, in order.
func parseLayers(config []byte, manifest []ocispec.Descriptor) ([]History, []Layer, error) {
	var j imageHistoryJSON
	if err := json.Unmarshal(config, &j); err != nil {
		return nil, nil, fmt.Errorf("decoding image config: %w", err)
	}
	layers := make([]Layer, len(manifest))
	for i, d := range manifest {
		layers[i] = Layer{Digest: d.Digest.String(), Size: d.Size, MediaType: d.MediaType}
		if i < len(j.RootFS.DiffIDs) {
			layers[i].DiffID = j.RootFS.DiffIDs[i]
		}
	}
	history := make([]History, len(j.History))
	next := 0
	for i, h := range j.History {
		history[i] = History{CreatedBy: h.CreatedBy, Comment: h.Comment, Author: h.Author,
			EmptyLayer: h.EmptyLayer, Layer: -1}
		if h.Created != nil {
			history[i].Created = *h.Created
		}
		if !h.EmptyLayer && next < len(layers) {
			history[i].Layer = next
			next++
		}
	}
	return history, layers, nil
}
