package dockerfile

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func healthEqual(h, o *dockerspec.HealthcheckConfig) bool {
	if h == nil || o == nil {
		return h == o
	}
	return slices.Equal(h.Test, o.Test) && h.Interval == o.Interval && h.Timeout == o.Timeout &&
		h.StartPeriod == o.StartPeriod && h.StartInterval == o.StartInterval && h.Retries == o.Retries
}

// Step is one step of an image's build history with the layer it made.
type Step struct {
	ocispec.History
	// Layer is the index in the manifest's layers of the layer the step
	// made; -1 for an empty-layer step and for a step the image has no
	// layer left for.
	Layer int
}

// Steps pairs an image's history with its layers, oldest first: the steps
// that are not empty layers made the layers, in order. Layers the history
// does not account for come last, as steps with no record.
func Steps(history []ocispec.History, layers int) []Step {
	steps := make([]Step, 0, len(history))
	next := 0
	for _, h := range history {
		s := Step{History: h, Layer: -1}
		if !h.EmptyLayer && next < layers {
			s.Layer = next
			next++
		}
		steps = append(steps, s)
	}
	for ; next < layers; next++ {
		steps = append(steps, Step{Layer: next})
	}
	return steps
}

// Labels that name the base image (set by some builders and by hand).
const (
	labelBaseName   = "org.opencontainers.image.base.name"
	labelBaseDigest = "org.opencontainers.image.base.digest"
)

// Reverse writes a Dockerfile that describes an image from its config and
// its history (both in img). The error is reserved for input Reverse cannot describe;
// today every input can be, with comments where an instruction cannot say
// what the history says.
//
// layers are the manifest's, bottom first: each step's comment gives the
// size of the layer it made.
func Reverse(img dockerspec.DockerOCIImage, layers []ocispec.Descriptor) ([]byte, error) {
	w := newWriter(img)
	w.header()
	for _, s := range Steps(img.History, len(layers)) {
		var size int64
		if s.Layer >= 0 {
			size = layers[s.Layer].Size
		}
		w.step(s.History, size)
	}
	w.fromConfig()
	return w.buf.Bytes(), nil
}

// writer writes the Dockerfile and follows the state its instructions set,
// as a single-stage build of it would.
type writer struct {
	buf bytes.Buffer
	cfg dockerspec.DockerOCIImageConfig
	// finalEnv is the config's env: with cfg.Labels it splits ambiguous
	// ENV and LABEL records ("LABEL a=x y b=z") the way the image ended up.
	finalEnv map[string]string

	layer int
	shell []string
	args  map[string]string

	env        map[string]string
	labels     map[string]string
	ports      []portRange
	volumes    map[string]bool
	workdir    string
	user       string
	stopSignal string
	entrypoint []string
	cmd        []string
	cmdSet     bool
	health     *dockerspec.HealthcheckConfig
	// healthUnread is set when the history set a HEALTHCHECK that could
	// not be read back, so the config's cannot be compared with it.
	healthUnread bool
}

func newWriter(img dockerspec.DockerOCIImage) *writer {
	w := &writer{cfg: img.Config, finalEnv: envMap(img.Config.Env), shell: defaultShell(img.OS),
		args: map[string]string{}, env: map[string]string{}, labels: map[string]string{},
		volumes: map[string]bool{}}
	return w
}

func defaultShell(os string) []string {
	if os == "windows" {
		return []string{"cmd", "/S", "/C"}
	}
	return []string{"/bin/sh", "-c"}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

func (w *writer) line(s string) {
	w.buf.WriteString(s)
	w.buf.WriteByte('\n')
}

// inst writes an instruction; one with a line break, which a Dockerfile
// line cannot hold, is kept as a comment.
func (w *writer) inst(s string) {
	if strings.ContainsAny(s, "\n\r") {
		w.comment(s)
		return
	}
	w.line(s)
}

// comment writes s as comment lines.
func (w *writer) comment(s string) {
	for l := range strings.SplitSeq(s, "\n") {
		w.line(strings.TrimRight("# "+l, " "))
	}
}

func (w *writer) header() {
	w.comment("Reverse-engineered from the image's build history and config. It describes the\n" +
		"image step by step but does not rebuild it as is: ADD and COPY name content\n" +
		"hashes or build-context paths, and RUN mounts and secrets are not recorded.")
	if base := w.cfg.Labels[labelBaseName]; base != "" {
		if d := w.cfg.Labels[labelBaseDigest]; d != "" && !strings.Contains(base, "@") {
			base += "@" + d
		}
		w.comment("Base image (label " + labelBaseName + "): " + base)
	}
	w.line("FROM scratch")
}

// step writes one history step.
func (w *writer) step(h ocispec.History, layerSize int64) {
	base, isBase := strings.CutPrefix(h.Comment, "FROM ")
	if isBase {
		// buildah notes the base on the first step it added.
		w.line("")
		w.comment("The steps above made the base image, " + base + ".")
	}
	if !h.EmptyLayer {
		w.layer++
		w.line("")
		if layerSize > 0 {
			w.comment(fmt.Sprintf("layer %d: %s", w.layer, units.HumanSize(float64(layerSize))))
		} else {
			w.comment(fmt.Sprintf("layer %d", w.layer))
		}
	}
	if h.Comment != "" && h.Comment != "buildkit.dockerfile.v0" && !isBase {
		w.comment("comment: " + h.Comment)
	}
	if h.Author != "" {
		w.comment("author: " + h.Author)
	}
	st := readStep(h.CreatedBy, w.shell)
	if st.keyword == "" {
		switch {
		case strings.TrimSpace(h.CreatedBy) != "":
			w.comment(h.CreatedBy)
		case !h.EmptyLayer:
			w.comment("(the history does not say how this layer was made)")
		}
		return
	}
	handlers[st.keyword](w, st)
}

// handlers write an instruction read from the history and follow what it
// sets.
var handlers = map[string]func(*writer, step){
	"ADD":         (*writer).addCopy,
	"ARG":         (*writer).arg,
	"CMD":         (*writer).cmdInst,
	"COPY":        (*writer).addCopy,
	"ENTRYPOINT":  (*writer).entrypointInst,
	"ENV":         (*writer).envInst,
	"EXPOSE":      (*writer).expose,
	"FROM":        (*writer).from,
	"HEALTHCHECK": (*writer).healthcheck,
	"LABEL":       (*writer).label,
	"MAINTAINER":  (*writer).maintainer,
	"ONBUILD":     (*writer).verbatim,
	"RUN":         (*writer).run,
	"SHELL":       (*writer).shellInst,
	"STOPSIGNAL":  (*writer).stopSignalInst,
	"USER":        (*writer).userInst,
	"VOLUME":      (*writer).volume,
	"WORKDIR":     (*writer).workdirInst,
}

// verbatim writes the instruction as recorded; one that spans lines is kept
// as a comment, as a Dockerfile line cannot hold it.
func (w *writer) verbatim(st step) {
	w.inst(strings.TrimSpace(st.keyword + " " + st.args))
}

// maintainer keeps MAINTAINER as a comment: BuildKit warns that it is deprecated, and the LABEL
// it suggests instead would add a label the image does not have (MAINTAINER set the author).
func (w *writer) maintainer(st step) {
	w.comment(strings.TrimSpace(st.keyword+" "+st.args) + " (deprecated; it set the image's author)")
}

func (w *writer) from(st step) {
	w.comment(st.keyword + " " + st.args)
}

func (w *writer) addCopy(st step) {
	if st.classic {
		st.args = classicCopyArgs(st.args)
	}
	w.verbatim(st)
}

func (w *writer) arg(st step) {
	for _, f := range strings.Fields(st.args) {
		k, v, _ := strings.Cut(f, "=")
		w.args[k] = v
	}
	w.verbatim(st)
}

func (w *writer) run(st step) {
	buildArgs, cmd := splitBuildArgs(st.args, w.shell)
	for _, a := range buildArgs {
		if v, ok := w.args[a.key]; ok && v == a.value {
			continue
		}
		w.inst("ARG " + a.key + "=" + quoteValue(a.value))
		w.args[a.key] = a.value
	}
	w.line("RUN " + w.runForm(cmd))
}

// runForm writes a recorded RUN command: shell form when it runs through the
// current shell and reads back the same, exec form otherwise.
func (w *writer) runForm(cmd string) string {
	if argv := w.shellArgv(cmd); argv != nil {
		return w.form(argv, true)
	}
	// Exec form, which BuildKit records as its words joined by blanks.
	if shellSafe(cmd) {
		return cmd
	}
	return jsonArray(append(slices.Clone(w.shell), cmd))
}

// shellArgv splits a command recorded with its shell in front
// ("/bin/sh -c make") into the argument vector, or returns nil.
func (w *writer) shellArgv(cmd string) []string {
	if rest, ok := strings.CutPrefix(cmd, strings.Join(w.shell, " ")+" "); ok {
		return append(slices.Clone(w.shell), rest)
	}
	if m := shellRE.FindStringSubmatch(cmd); m != nil {
		return append(strings.Fields(m[1]), m[2])
	}
	return nil
}

// form writes an argument vector in shell form when it is the current shell
// running one command that a Dockerfile line can hold, else in exec form.
func (w *writer) form(argv []string, breakLong bool) string {
	n := len(w.shell)
	if len(argv) == n+1 && slices.Equal(argv[:n], w.shell) && shellSafe(argv[n]) {
		if breakLong {
			return breakLines(argv[n])
		}
		return argv[n]
	}
	return jsonArray(argv)
}

// argv reads a CMD or ENTRYPOINT as recorded: a list, or shell form text.
func (w *writer) argv(args string) []string {
	if l, ok := parseList(args); ok {
		return l
	}
	return append(slices.Clone(w.shell), strings.TrimSpace(args))
}

func (w *writer) cmdInst(st step) {
	w.cmd = w.argv(st.args)
	w.cmdSet = true
	w.inst("CMD " + w.form(w.cmd, false))
}

func (w *writer) entrypointInst(st step) {
	w.entrypoint = w.argv(st.args)
	if !w.cmdSet {
		w.cmd = nil // as docker does when this stage set no CMD
	}
	w.inst("ENTRYPOINT " + w.form(w.entrypoint, false))
}

func (w *writer) envInst(st step) {
	kvs := splitPairs(st.args, isEnvKey, w.finalEnv)
	if kvs == nil {
		w.verbatim(st)
		return
	}
	for _, kv := range kvs {
		w.env[kv.key] = kv.value
	}
	w.pairs("ENV", kvs)
}

func (w *writer) label(st step) {
	kvs := splitPairs(st.args, isLabelKey, w.cfg.Labels)
	if kvs == nil {
		w.verbatim(st)
		return
	}
	for _, kv := range kvs {
		w.labels[kv.key] = kv.value
	}
	w.pairs("LABEL", kvs)
}

// pairs writes ENV or LABEL with its pairs quoted; a value with a line break
// cannot be written, so the instruction is kept as a comment.
func (w *writer) pairs(keyword string, kvs []pair) {
	var b strings.Builder
	b.WriteString(keyword)
	for _, kv := range kvs {
		b.WriteString(" " + quoteKey(kv.key) + "=" + quoteValue(kv.value))
	}
	w.inst(b.String())
}

func (w *writer) expose(st step) {
	ports := parsePorts(st.args)
	for _, p := range ports {
		if r, ok := parsePortRange(p); ok {
			w.ports = append(w.ports, r)
		}
	}
	w.inst("EXPOSE " + strings.Join(ports, " "))
}

func (w *writer) volume(st step) {
	vols, ok := parseList(st.args)
	if !ok {
		vols = strings.Fields(st.args)
	}
	for _, v := range vols {
		w.volumes[v] = true
	}
	w.inst("VOLUME " + jsonArray(vols))
}

func (w *writer) userInst(st step) {
	w.user = strings.TrimSpace(st.args)
	if l, ok := parseList(w.user); ok && len(l) == 1 {
		w.user = l[0] // docker 1.x: USER [name]
	}
	w.inst("USER " + escapeVars(w.user))
}

func (w *writer) workdirInst(st step) {
	d := strings.TrimSpace(st.args)
	if !path.IsAbs(d) && !strings.Contains(d, `\`) {
		d = path.Join("/", w.workdir, d)
	}
	w.workdir = d
	w.inst("WORKDIR " + escapeVars(d))
}

func (w *writer) stopSignalInst(st step) {
	w.stopSignal = strings.TrimSpace(st.args)
	w.inst("STOPSIGNAL " + escapeVars(w.stopSignal))
}

func (w *writer) shellInst(st step) {
	l, ok := parseList(st.args)
	if !ok || len(l) == 0 {
		w.verbatim(st)
		return
	}
	w.shell = l
	w.inst("SHELL " + jsonArray(l))
}

func (w *writer) healthcheck(st step) {
	h, ok := parseHealthcheck(st.args)
	if !ok {
		w.healthUnread = true
		w.verbatim(st)
		return
	}
	w.health, w.healthUnread = h, false
	w.inst(w.healthLine(h))
}

// healthLine writes a HEALTHCHECK instruction, with only the options that
// differ from docker's defaults (0 means the default).
func (w *writer) healthLine(h *dockerspec.HealthcheckConfig) string {
	if len(h.Test) > 0 && h.Test[0] == "NONE" {
		return "HEALTHCHECK NONE"
	}
	var b strings.Builder
	b.WriteString("HEALTHCHECK")
	for _, o := range []struct {
		name string
		d    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start-period", h.StartPeriod}, {"start-interval", h.StartInterval}} {
		if o.d != 0 {
			fmt.Fprintf(&b, " --%s=%s", o.name, o.d)
		}
	}
	if h.Retries != 0 {
		fmt.Fprintf(&b, " --retries=%d", h.Retries)
	}
	switch {
	case len(h.Test) == 2 && h.Test[0] == "CMD-SHELL" && shellSafe(h.Test[1]):
		b.WriteString(" CMD " + h.Test[1])
	case len(h.Test) >= 2 && h.Test[0] == "CMD-SHELL":
		b.WriteString(" CMD " + jsonArray(append(slices.Clone(w.shell), strings.Join(h.Test[1:], " "))))
	case len(h.Test) >= 2 && h.Test[0] == "CMD":
		b.WriteString(" CMD " + jsonArray(h.Test[1:]))
	default:
		// An empty test inherits the base image's; a Dockerfile cannot say that.
		return "# HEALTHCHECK with test " + fmt.Sprintf("%q", h.Test) + strings.TrimPrefix(b.String(), "HEALTHCHECK")
	}
	return b.String()
}

// fromConfig writes what the config holds and the history did not set, so
// that the Dockerfile ends with the image's final configuration.
func (w *writer) fromConfig() {
	var lines []string
	add := func(s string) { lines = append(lines, s) }

	for _, e := range w.cfg.Env {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			add("# ENV " + e + " (an entry without a value)")
			continue
		}
		if old, set := w.env[k]; set && old == v {
			continue
		}
		if strings.ContainsAny(v, "\n\r") {
			add("# ENV " + k + " has a value with a line break, which a Dockerfile cannot hold")
			continue
		}
		add("ENV " + k + "=" + quoteValue(v))
	}
	for _, k := range slices.Sorted(maps.Keys(w.cfg.Labels)) {
		v := w.cfg.Labels[k]
		if old, set := w.labels[k]; set && old == v {
			continue
		}
		if strings.ContainsAny(v, "\n\r") {
			add("# LABEL " + k + " has a value with a line break, which a Dockerfile cannot hold")
			continue
		}
		add("LABEL " + quoteKey(k) + "=" + quoteValue(v))
	}
	var ports []string
	for _, p := range sortedPorts(w.cfg.ExposedPorts) {
		if !exposes(w.ports, p) {
			ports = append(ports, p)
		}
	}
	if len(ports) > 0 {
		add("EXPOSE " + strings.Join(ports, " "))
	}
	var vols []string
	for _, v := range slices.Sorted(maps.Keys(w.cfg.Volumes)) {
		if !w.volumes[v] {
			vols = append(vols, v)
		}
	}
	if len(vols) > 0 {
		add("VOLUME " + jsonArray(vols))
	}
	if d := w.cfg.WorkingDir; d != "" && d != w.workdir {
		add("WORKDIR " + escapeVars(d))
	}
	if u := w.cfg.User; u != "" && u != w.user {
		add("USER " + escapeVars(u))
	}
	if s := w.cfg.StopSignal; s != "" && s != w.stopSignal {
		add("STOPSIGNAL " + escapeVars(s))
	}
	if h := w.cfg.Healthcheck; h != nil && !w.healthUnread && !healthEqual(h, w.health) {
		add(w.healthLine(h))
	}
	if !slices.Equal(w.cfg.Entrypoint, w.entrypoint) {
		add("ENTRYPOINT " + w.form(nonNil(w.cfg.Entrypoint), false))
		if !w.cmdSet {
			w.cmd = nil
		}
	}
	if !slices.Equal(w.cfg.Cmd, w.cmd) {
		add("CMD " + w.form(nonNil(w.cfg.Cmd), false))
	}
	if len(lines) == 0 {
		return
	}
	w.line("")
	w.comment("From the image config: the history does not set these.")
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "# "); ok {
			w.comment(c)
		} else {
			w.inst(l)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sortedPorts returns the exposed ports (PORT/PROTO) by number, then
// protocol.
func sortedPorts(m map[string]struct{}) []string {
	ps := slices.Collect(maps.Keys(m))
	slices.SortFunc(ps, func(a, b string) int {
		an, ap, _ := strings.Cut(a, "/")
		bn, bp, _ := strings.Cut(b, "/")
		x, _ := strconv.Atoi(an)
		y, _ := strconv.Atoi(bn)
		return cmp.Or(cmp.Compare(x, y), strings.Compare(an, bn), strings.Compare(ap, bp))
	})
	return ps
}
