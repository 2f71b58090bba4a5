package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/slimtrace/slimtrace/internal/dockerfile"
	"github.com/slimtrace/slimtrace/internal/session"
	"github.com/slimtrace/slimtrace/internal/target"
)

// imageFlags say where an image comes from; named and defaulted as in
// runFlags.
type imageFlags struct {
	Containerd string `help:"containerd's socket." default:"/run/containerd/containerd.sock" env:"CONTAINERD_ADDRESS" group:"Runtime"`
	Namespace  string `help:"containerd namespace of the image (Docker >= 29 keeps images in 'moby', Kubernetes in 'k8s.io')." default:"default" env:"CONTAINERD_NAMESPACE" group:"Runtime"`
	DockerHost string `help:"Docker Engine API endpoint for docker-daemon: sources." default:"unix:///var/run/docker.sock" env:"DOCKER_HOST" group:"Runtime"`
}

type infoCmd struct {
	Image string `arg:"" help:"The image: a name in containerd's store, or docker-archive:PATH, oci-archive:PATH, oci:DIR[:TAG], docker-daemon:NAME."`
	imageFlags

	Output            string `help:"Print as text or json." enum:"text,json" default:"text" group:"Output"`
	NoTrunc           bool   `help:"Do not truncate history commands in text output." group:"Output"`
	CopyMetaArtifacts string `help:"Also copy Dockerfile.fat to this directory." type:"path" placeholder:"DIR" group:"Output"`
}

// fatName is the reverse-engineered Dockerfile's file name.
const fatName = "Dockerfile.fat"

func (c *infoCmd) Help() string {
	return `Dockerfile.fat is reverse-engineered from the image's history and config,
step by step with the size of each layer, and written to
<state-path>/images/<image-id>/artifacts/. Nothing is run: the image is only
resolved in containerd (imported from an archive or a docker-daemon: source,
and unpacked, as profile does).

Examples:
  slimtrace info docker-archive:app.tar
  slimtrace info --namespace moby nginx:latest
  slimtrace info --output json --copy-meta-artifacts . oci:./layout:v1`
}

func (c *infoCmd) Run(ctx context.Context, g *Globals) error {
	rt, err := target.Connect(ctx, target.Options{Address: c.Containerd, Namespace: c.Namespace,
		StatePath: g.StatePath, DockerHost: c.DockerHost})
	if err != nil {
		return err
	}
	defer rt.Close()
	img, err := rt.Resolve(ctx, c.Image)
	if err != nil {
		return err
	}
	fat, err := dockerfile.Reverse(reverseInput(img))
	if err != nil {
		return fmt.Errorf("reverse-engineering the Dockerfile: %w", err)
	}
	path := filepath.Join(session.ArtifactDir(g.StatePath, img.ID), fatName)
	if err := writeFile(path, fat); err != nil {
		return err
	}
	if c.CopyMetaArtifacts != "" {
		if err := writeFile(filepath.Join(c.CopyMetaArtifacts, fatName), fat); err != nil {
			return err
		}
	}
	info := newImageInfo(img, path)
	if c.Output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	return info.print(os.Stdout, c.NoTrunc)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// reverseInput is img as package dockerfile reads it. Each step that made a
// layer carries the layer's size; layers the history does not account for
// come last, as steps with no record.
func reverseInput(img *target.Image) (dockerfile.Config, []dockerfile.History) {
	c := img.Config
	cfg := dockerfile.Config{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
		Volumes: c.Volumes, Labels: c.Labels, StopSignal: c.StopSignal, OS: c.OS}
	for _, p := range c.ExposedPorts {
		cfg.ExposedPorts = append(cfg.ExposedPorts, p.String())
	}
	if h := c.Healthcheck; h != nil {
		hc := dockerfile.Healthcheck(*h)
		cfg.Healthcheck = &hc
	}
	var history []dockerfile.History
	next := 0 // the first layer no step made
	for _, h := range img.History {
		d := dockerfile.History{CreatedBy: h.CreatedBy, Comment: h.Comment, Author: h.Author, EmptyLayer: h.Layer < 0}
		if h.Layer >= 0 {
			d.LayerSize = img.Layers[h.Layer].Size
			next = h.Layer + 1
		}
		history = append(history, d)
	}
	for _, l := range img.Layers[next:] {
		history = append(history, dockerfile.History{LayerSize: l.Size})
	}
	return cfg, history
}

// imageInfo is what info prints, and its JSON form.
type imageInfo struct {
	Name       string        `json:"name"`
	ID         string        `json:"id"`
	Digest     string        `json:"digest"`
	Platform   string        `json:"platform"`
	Size       int64         `json:"size"`
	Layers     []layerInfo   `json:"layers"`
	Config     configInfo    `json:"config"`
	History    []historyInfo `json:"history"`
	Dockerfile string        `json:"dockerfile_fat"`
}

type layerInfo struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diff_id,omitempty"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
}

type configInfo struct {
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	WorkingDir   string            `json:"working_dir,omitempty"`
	User         string            `json:"user,omitempty"`
	ExposedPorts []string          `json:"exposed_ports,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stop_signal,omitempty"`
	Healthcheck  *healthcheckInfo  `json:"healthcheck,omitempty"`
}

type healthcheckInfo struct {
	Test          []string `json:"test"`
	Interval      string   `json:"interval,omitempty"`
	Timeout       string   `json:"timeout,omitempty"`
	StartPeriod   string   `json:"start_period,omitempty"`
	StartInterval string   `json:"start_interval,omitempty"`
	Retries       int      `json:"retries,omitempty"`
}

type historyInfo struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by"`
	Comment    string     `json:"comment,omitempty"`
	Author     string     `json:"author,omitempty"`
	EmptyLayer bool       `json:"empty_layer"`
	// Layer is the 1-based number of the layer the step made.
	Layer int `json:"layer,omitempty"`
}

func newImageInfo(img *target.Image, fatPath string) imageInfo {
	c := img.Config
	info := imageInfo{Name: img.Name, ID: img.ID, Digest: img.Digest, Platform: img.Platform, Size: img.Size,
		Layers: []layerInfo{}, History: []historyInfo{}, Dockerfile: fatPath,
		Config: configInfo{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
			Volumes: c.Volumes, Labels: c.Labels, StopSignal: c.StopSignal}}
	for _, p := range c.ExposedPorts {
		info.Config.ExposedPorts = append(info.Config.ExposedPorts, p.String())
	}
	if h := c.Healthcheck; h != nil {
		info.Config.Healthcheck = &healthcheckInfo{Test: h.Test, Interval: duration(h.Interval), Timeout: duration(h.Timeout),
			StartPeriod: duration(h.StartPeriod), StartInterval: duration(h.StartInterval), Retries: h.Retries}
	}
	for _, l := range img.Layers {
		info.Layers = append(info.Layers, layerInfo{Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, MediaType: l.MediaType})
	}
	for _, h := range img.History {
		hi := historyInfo{CreatedBy: h.CreatedBy, Comment: h.Comment, Author: h.Author, EmptyLayer: h.EmptyLayer, Layer: h.Layer + 1}
		if !h.Created.IsZero() {
			hi.Created = &h.Created
		}
		info.History = append(info.History, hi)
	}
	return info
}

func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// print writes the readable form: metadata, layers, config, history.
func (info imageInfo) print(out io.Writer, noTrunc bool) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Image:\t%s\n", info.Name)
	fmt.Fprintf(w, "ID:\t%s\n", info.ID)
	fmt.Fprintf(w, "Digest:\t%s\n", info.Digest)
	fmt.Fprintf(w, "Platform:\t%s\n", info.Platform)
	fmt.Fprintf(w, "Size:\t%s (%d bytes)\n", units.HumanSize(float64(info.Size)), info.Size)

	fmt.Fprintf(w, "\nLayers (%d):\n", len(info.Layers))
	fmt.Fprintf(w, "  #\tDIGEST\tSIZE\tMEDIA TYPE\n")
	for i, l := range info.Layers {
		fmt.Fprintf(w, "  %d\t%s\t%s\t%s\n", i+1, l.Digest, units.HumanSize(float64(l.Size)), l.MediaType)
	}

	fmt.Fprintf(w, "\nConfig:\n")
	c := info.Config
	field := func(name string, values ...string) {
		for i, v := range values {
			if i == 0 {
				fmt.Fprintf(w, "  %s:\t%s\n", name, v)
			} else {
				fmt.Fprintf(w, "  \t%s\n", v)
			}
		}
	}
	if c.Entrypoint != nil {
		field("Entrypoint", argvString(c.Entrypoint))
	}
	if c.Cmd != nil {
		field("Cmd", argvString(c.Cmd))
	}
	field("Env", c.Env...)
	field("WorkingDir", nonEmpty(c.WorkingDir)...)
	field("User", nonEmpty(c.User)...)
	field("ExposedPorts", nonEmpty(strings.Join(c.ExposedPorts, " "))...)
	field("Volumes", c.Volumes...)
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		labels = append(labels, k+"="+c.Labels[k])
	}
	field("Labels", labels...)
	field("StopSignal", nonEmpty(c.StopSignal)...)
	if h := c.Healthcheck; h != nil {
		s := argvString(h.Test)
		for _, o := range []struct{ name, v string }{{"interval", h.Interval}, {"timeout", h.Timeout},
			{"start-period", h.StartPeriod}, {"start-interval", h.StartInterval}} {
			if o.v != "" {
				s += " " + o.name + "=" + o.v
			}
		}
		if h.Retries != 0 {
			s += " retries=" + strconv.Itoa(h.Retries)
		}
		field("Healthcheck", s)
	}

	fmt.Fprintf(w, "\nHistory (%d):\n", len(info.History))
	fmt.Fprintf(w, "  CREATED\tLAYER\tCREATED BY\n")
	for _, h := range info.History {
		created := "-"
		if h.Created != nil {
			created = h.Created.UTC().Format(time.RFC3339)
		}
		layer := "empty"
		if h.Layer > 0 {
			layer = strconv.Itoa(h.Layer)
		} else if !h.EmptyLayer {
			layer = "?" // a step the image has no layer left for
		}
		by := oneLine(h.CreatedBy)
		if r := []rune(by); !noTrunc && len(r) > historyWidth {
			by = string(r[:historyWidth]) + "…"
		}
		if h.Comment != "" {
			by += "  (" + oneLine(h.Comment) + ")"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", created, layer, by)
	}
	fmt.Fprintf(w, "\n%s:\t%s\n", fatName, info.Dockerfile)
	return w.Flush()
}

// historyWidth is how much of a history command text output shows unless
// --no-trunc.
const historyWidth = 100

// oneLine writes line breaks and tabs as \n and \t, so that a step stays on
// its table row.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

// argvString writes an argument list as a Dockerfile's exec form does.
func argvString(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		b, _ := json.Marshal(a) // a string always encodes
		q[i] = string(b)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
