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

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/docker/go-units"
	"github.com/rs/zerolog"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/dockerfile"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/session"
)

type infoCmd struct {
	Image string `arg:"" help:"The image: a name (looked up in containerd, then Docker Engine; with --pull, in its registry), or docker://REF, docker-daemon:NAME, docker-archive:PATH, oci-archive:PATH, oci:DIR[:TAG]."`
	imageFlags

	Output            string `help:"Print as text or json." enum:"text,json" default:"text" group:"Output"`
	NoTrunc           bool   `help:"Do not truncate history commands in text output." group:"Output"`
	CopyMetaArtifacts string `help:"Also copy Dockerfile.fat to this directory." type:"path" placeholder:"DIR" group:"Output"`
	ReportEnvValues   bool   `help:"Show and write the values of environment variables whose names look secret (*TOKEN*, *SECRET*, *PASSWORD*, *PASSWD*, *KEY*, *CREDENTIAL*, *AUTH*), in the config and in the build steps; by default they read <redacted>." group:"Output"`
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
	rt, err := image.Connect(ctx, c.storeOptions(g))
	if err != nil {
		return err
	}
	defer rt.Close()
	if _, err := container.PruneStale(ctx, rt); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("cleaning up after killed runs")
	}
	img, err := rt.Resolve(ctx, c.Image)
	if err != nil {
		return err
	}
	if !c.ReportEnvValues {
		shown := *img
		shown.Config = redactConfig(img.Config)
		img = &shown
	}
	fat, err := dockerfile.Reverse(img.Config, img.Manifest.Layers)
	if err != nil {
		return fmt.Errorf("reverse-engineering the Dockerfile: %w", err)
	}
	path := filepath.Join(session.ArtifactDir(g.StatePath, img.ID().String()), fatName)
	if err := session.WritePrivate(path, fat); err != nil {
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
	return info.print(escapeWriter{os.Stdout}, c.NoTrunc)
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

// imageInfo is what info prints, and its JSON form.
type imageInfo struct {
	Name       string                          `json:"name"`
	ID         string                          `json:"id"`
	Digest     string                          `json:"digest"`
	Platform   string                          `json:"platform"`
	Size       int64                           `json:"size"`
	Layers     []layerInfo                     `json:"layers"`
	Config     dockerspec.DockerOCIImageConfig `json:"config"`
	History    []historyInfo                   `json:"history"`
	Dockerfile string                          `json:"dockerfile_fat"`
}

type layerInfo struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diff_id,omitempty"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
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

// redactConfig returns a copy of c whose secret-looking variables read
// <redacted>, in its environment and in the build steps of its history
// (ENV and ARG values), and the values of its entrypoint's, command's and
// HEALTHCHECK's secret-looking flags (--password=x, --token x): info's output and
// Dockerfile.fat are shared more widely than the image.
func redactConfig(c dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	c.Config.Env = creport.RedactEnv(c.Config.Env)
	redact := func(ss []string) []string {
		if ss == nil {
			return nil
		}
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = creport.RedactText(s)
		}
		return out
	}
	c.Config.Entrypoint = redact(creport.RedactArgs(c.Config.Entrypoint))
	c.Config.Cmd = redact(creport.RedactArgs(c.Config.Cmd))
	if h := c.Config.Healthcheck; h != nil {
		redacted := *h
		redacted.Test = creport.RedactArgs(h.Test)
		c.Config.Healthcheck = &redacted
	}
	c.History = slices.Clone(c.History)
	for i := range c.History {
		c.History[i].CreatedBy = creport.RedactText(c.History[i].CreatedBy)
	}
	return c
}

func newImageInfo(img *image.Image, fatPath string) imageInfo {
	info := imageInfo{Name: img.Name, ID: img.ID().String(), Digest: img.Digest().String(), Platform: img.Platform(),
		Size: img.Size, Layers: []layerInfo{}, History: []historyInfo{}, Dockerfile: fatPath, Config: img.Config.Config}
	diffIDs := img.Config.RootFS.DiffIDs
	for i, l := range img.Manifest.Layers {
		li := layerInfo{Digest: l.Digest.String(), Size: l.Size, MediaType: l.MediaType}
		if i < len(diffIDs) {
			li.DiffID = diffIDs[i].String()
		}
		info.Layers = append(info.Layers, li)
	}
	// Layers the history does not account for are listed, not steps.
	for _, s := range dockerfile.Steps(img.Config.History, len(img.Manifest.Layers))[:len(img.Config.History)] {
		info.History = append(info.History, historyInfo{Created: s.Created, CreatedBy: s.CreatedBy, Comment: s.Comment,
			Author: s.Author, EmptyLayer: s.EmptyLayer, Layer: s.Layer + 1})
	}
	return info
}

// portList is the exposed ports, by number.
func portList(c dockerspec.DockerOCIImageConfig) []string {
	ps, err := container.ImagePorts(c)
	if err != nil {
		return slices.Sorted(maps.Keys(c.ExposedPorts))
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
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
	field("ExposedPorts", nonEmpty(strings.Join(portList(c), " "))...)
	field("Volumes", slices.Sorted(maps.Keys(c.Volumes))...)
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		labels = append(labels, k+"="+c.Labels[k])
	}
	field("Labels", labels...)
	field("StopSignal", nonEmpty(c.StopSignal)...)
	if h := c.Healthcheck; h != nil {
		s := argvString(h.Test)
		for _, o := range []struct{ name, v string }{{"interval", duration(h.Interval)}, {"timeout", duration(h.Timeout)},
			{"start-period", duration(h.StartPeriod)}, {"start-interval", duration(h.StartInterval)}} {
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
