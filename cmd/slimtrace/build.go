package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/slimtrace/slimtrace/internal/builder"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/session"
)

type buildCmd struct {
	runFlags

	Tag           string   `help:"Name of the slim image, normalised as Docker does (my/app:slim is docker.io/my/app:slim). Default: the image's repository with .slim appended (app:1.2 -> app.slim:1.2)." group:"Slim image"`
	TargetRuntime string   `help:"Where the slim image goes: containerd (the --namespace), docker (Docker Engine, as docker load), or none (only --output and --push). Default: where the image was found (Docker for an image found in Docker, else containerd)." enum:",containerd,docker,none" default:"" placeholder:"containerd|docker|none" group:"Slim image"`
	Push          bool     `help:"Push the slim image to the registry its name (--tag) points at, with the credentials of --registry-auth or the Docker config." group:"Slim image"`
	Output        []string `help:"Also write the slim image as a tarball: type=oci|docker,dest=FILE (docker load, ctr images import) (repeatable)." placeholder:"type=T,dest=FILE" sep:"none" group:"Slim image"`

	IncludePath                 []string      `help:"Keep PATH (a file, or a directory with everything under it), optionally setting its mode and owner: PATH[:MODE#UID#GID] (repeatable)." placeholder:"PATH" group:"Files"`
	IncludePathFile             string        `help:"File of --include-path values, one per line." type:"existingfile" placeholder:"FILE" group:"Files"`
	ExcludePath                 []string      `help:"Leave out paths matching this glob (** spans directories); wins over the trace and the includes (repeatable)." placeholder:"GLOB" group:"Files"`
	IncludeBin                  []string      `help:"Keep this binary and the libraries it needs (repeatable)." placeholder:"PATH" group:"Files"`
	IncludeExe                  []string      `help:"Keep this program, found in the image's PATH, and its libraries (repeatable)." placeholder:"NAME" group:"Files"`
	IncludeShell                bool          `help:"Keep a shell (/bin/sh) and what it needs, for debugging the slim image." group:"Files"`
	IncludeCertAll              bool          `help:"Keep the OS CA certificate stores and CA bundles shipped in app packages when TLS libraries are in use." default:"true" negatable:"" group:"Files"`
	IncludeOslibsNet            bool          `help:"Keep resolver and NSS files and modules (resolv.conf, nsswitch.conf, hosts, libnss_files, libnss_dns, libresolv)." default:"true" negatable:"" group:"Files"`
	IncludeZoneinfo             bool          `help:"Keep the time zone database." group:"Files"`
	Insurance                   string        `help:"What to keep beyond the files the application used, for code no probe reached: none; imports (the modules traced source files import with literal names, transitively, and template engines registered by name); full (that, and whole application directories and language packages). creport.json's slim.insurance_bytes says what it costs." enum:"none,imports,full" default:"full" group:"Files"`
	KeepAppDirs                 bool          `help:"Alias: --no-keep-app-dirs turns whole application directories and language packages off (--insurance=imports)." default:"true" negatable:"" hidden:"" group:"Files"`
	AppDirCap                   string        `help:"Largest application directory kept whole, in bytes; above it only the touched files are kept (and a warning printed)." default:"64MB" group:"Files"`
	AppDirMaxFiles              int           `help:"Most files of an application directory kept whole (0: no cap); above it only the touched files are kept (and a warning printed)." default:"5000" group:"Files"`
	IncludeImports              bool          `help:"Alias: --no-include-imports turns the import closure off. Names computed at run time are listed in creport.json (slim.imports.unresolved)." default:"true" negatable:"" hidden:"" group:"Files"`
	ImportsMaxDepth             int           `help:"How many imports away from a traced file the import closure still reads files (0: no bound)." default:"4" group:"Files"`
	ImportsMaxSize              string        `help:"Most bytes of files the import closure adds (0: no bound)." default:"32MB" group:"Files"`
	FilesetTimeout              time.Duration `help:"Longest the file-set computation may take before the build fails (reading a hostile image cannot hang it)." default:"5m" group:"Files"`
	GlobMaxMatches              int           `help:"Most paths a glob from the image (an ld.so.conf include, a top_level.txt name) expands to; a cut is named in the warnings (0: no cap)." default:"1000" group:"Files"`
	SearchPathMaxDirs           int           `help:"Most directories of each search path from the image searched (ld.so.conf, an ELF object's RPATH/RUNPATH, LD_LIBRARY_PATH, PATH, PYTHONPATH and .pth files, NODE_PATH, RUBYLIB); a cut is named in the warnings (0: no cap)." default:"256" group:"Files"`
	ElfMaxNeeded                int           `help:"Most DT_NEEDED libraries of one ELF object looked up; a cut is named in the warnings (0: no cap)." default:"1024" group:"Files"`
	ImportsMaxUnresolved        int           `help:"Most dynamic imports (names computed at run time) listed in creport.json; the rest are counted (0: no cap)." default:"1000" group:"Files"`
	ImportsMaxUnresolvedPerFile int           `help:"Most dynamic imports listed from one source file; the rest are counted (0: no cap)." default:"20" group:"Files"`

	NewEntrypoint string   `help:"ENTRYPOINT of the slim image (shell words or a JSON array)." group:"Slim config"`
	NewCmd        string   `help:"CMD of the slim image (shell words or a JSON array)." group:"Slim config"`
	NewEnv        []string `help:"Add KEY=VALUE to the slim image's environment (repeatable)." group:"Slim config"`
	NewWorkdir    string   `help:"WORKDIR of the slim image." group:"Slim config"`
	NewExpose     []string `help:"Expose PORT[/PROTO] in the slim image (repeatable)." group:"Slim config"`
	NewLabel      []string `help:"Add KEY=VALUE as a label (repeatable)." group:"Slim config"`
	RemoveExpose  []string `help:"Stop exposing PORT[/PROTO] (repeatable)." group:"Slim config"`
	RemoveEnv     []string `help:"Remove the variable KEY (repeatable)." group:"Slim config"`
	RemoveLabel   []string `help:"Remove the label KEY (repeatable)." group:"Slim config"`
	RemoveVolume  []string `help:"Remove the VOLUME PATH (repeatable)." group:"Slim config"`

	Verify bool `help:"After building, run the slim image with the same settings and probes and compare every answer with the fat image's; any difference fails the build (the slim image stays, reported as failing)." group:"Slim image"`

	Buildkit  string `help:"buildkitd's address. When nothing answers there and a buildkitd binary is installed, one is started for the build and stopped after." default:"unix:///run/buildkit/buildkitd.sock" env:"BUILDKIT_HOST" group:"BuildKit"`
	ShowBlogs bool   `help:"Show BuildKit's progress display." group:"BuildKit"`
}

func (c *buildCmd) Help() string {
	return `Does what profile does, then builds a slim image holding only the files the
application used (with what they need: libraries, symlinks, parent
directories, the user database, CA certificates, the application's own
directories), assembled by BuildKit from the fat image, and tagged
<name>.slim where the fat image was found: Docker Engine (as docker load)
for an image Docker holds, else containerd's namespace. The fat image is
not changed.

A bare name is looked up in containerd's namespace, then Docker Engine;
with --pull (or a docker:// source) in its registry.

Examples:
  slimtrace build my/app                        # from Docker; my/app.slim lands in Docker
  slimtrace build --http-probe-cmd /api/info --tag my/app:slim my/app
  slimtrace build --push docker://registry.example:5000/app:1   # CI: pull, slim, push app.slim:1
  slimtrace build --include-path /app/templates --exclude-path '/usr/share/doc/**' my/app
  slimtrace build --output type=docker,dest=app-slim.tar docker-archive:app.tar`
}

func (c *buildCmd) Run(ctx context.Context, g *Globals) error {
	opts, err := c.sessionOptions(ctx, g, "build")
	if err != nil {
		return err
	}
	b, err := c.buildOptions(g)
	if err != nil {
		return err
	}
	run, err := session.Trace(ctx, opts)
	if err != nil {
		return err
	}
	defer run.Close(context.WithoutCancel(ctx))
	slim, err := session.Slim(ctx, run, b)
	if err != nil {
		return err
	}
	var v *creport.Verify
	if c.Verify {
		if v, err = session.Verify(ctx, run, slim.Report.Name); err != nil {
			return err
		}
	}
	if err := session.Deliver(ctx, run, slim); err != nil {
		return err
	}
	if err := finish(run, slim, v, g, &c.runFlags); err != nil {
		return err
	}
	if v != nil && !v.Passed {
		return errors.New("verification failed: the slim image does not behave as the fat one (see above); it was kept as " + v.Image)
	}
	return nil
}

// buildOptions checks the build flags, before anything is started.
func (c *buildCmd) buildOptions(g *Globals) (session.BuildOptions, error) {
	var errs []error
	fo := fileset.Options{ExcludePaths: c.ExcludePath, IncludeBins: c.IncludeBin, IncludeExes: c.IncludeExe,
		IncludeShell: c.IncludeShell, IncludeZoneinfo: c.IncludeZoneinfo, NoCertAll: !c.IncludeCertAll,
		NoOSLibsNet: !c.IncludeOslibsNet, NoAppDirs: !c.KeepAppDirs || c.Insurance != fileset.InsuranceFull,
		NoImports:   !c.IncludeImports || c.Insurance == fileset.InsuranceNone,
		ImportDepth: c.ImportsMaxDepth, MaxUnresolved: capFlag(c.ImportsMaxUnresolved), MaxUnresolvedPerFile: capFlag(c.ImportsMaxUnresolvedPerFile),
		MaxGlobMatches: capFlag(c.GlobMaxMatches), MaxSearchDirs: capFlag(c.SearchPathMaxDirs), MaxNeeded: capFlag(c.ElfMaxNeeded)}
	if c.ImportsMaxUnresolved < 0 || c.ImportsMaxUnresolvedPerFile < 0 || c.GlobMaxMatches < 0 || c.SearchPathMaxDirs < 0 || c.ElfMaxNeeded < 0 {
		errs = append(errs, fmt.Errorf("--imports-max-unresolved, --imports-max-unresolved-per-file, --glob-max-matches, --search-path-max-dirs and --elf-max-needed: want a count, or 0 for no cap"))
	}
	if c.ImportsMaxDepth == 0 {
		fo.ImportDepth = -1
	} else if c.ImportsMaxDepth < 0 {
		errs = append(errs, fmt.Errorf("--imports-max-depth: %d is negative", c.ImportsMaxDepth))
	}
	switch n, err := units.RAMInBytes(c.ImportsMaxSize); {
	case err != nil:
		errs = append(errs, fmt.Errorf("--imports-max-size: %w", err))
	case n == 0:
		fo.ImportMaxBytes = -1
	default:
		fo.ImportMaxBytes = n
	}
	for _, p := range c.IncludePath {
		ip, err := fileset.ParseIncludePath(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("--include-path %q: %w", p, err))
		}
		fo.IncludePaths = append(fo.IncludePaths, ip)
	}
	if c.IncludePathFile != "" {
		f, err := os.Open(c.IncludePathFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			ips, err := fileset.ParseIncludePathFile(f)
			f.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("--include-path-file %s: %w", c.IncludePathFile, err))
			}
			fo.IncludePaths = append(fo.IncludePaths, ips...)
		}
	}
	switch {
	case c.AppDirMaxFiles < 0:
		errs = append(errs, fmt.Errorf("--app-dir-max-files: %d is negative", c.AppDirMaxFiles))
	case c.AppDirMaxFiles == 0:
		fo.AppDirFiles = -1
	default:
		fo.AppDirFiles = c.AppDirMaxFiles
	}
	capBytes, err := units.RAMInBytes(c.AppDirCap)
	if err != nil {
		errs = append(errs, fmt.Errorf("--app-dir-cap: %w", err))
	}
	if capBytes == 0 {
		fo.NoAppDirs = true // no directory is small enough to keep whole
	} else {
		fo.AppDirCap = capBytes
	}

	ch := session.ConfigChanges{Env: c.NewEnv, Workdir: c.NewWorkdir, Expose: c.NewExpose,
		RemoveExpose: c.RemoveExpose, RemoveEnv: c.RemoveEnv, RemoveLabels: c.RemoveLabel, RemoveVolumes: c.RemoveVolume}
	ch.Entrypoint, err = parseArgv("--new-entrypoint", c.NewEntrypoint)
	errs = append(errs, err)
	if c.NewEntrypoint != "" && ch.Entrypoint == nil {
		ch.Entrypoint = []string{}
	}
	ch.Cmd, err = parseArgv("--new-cmd", c.NewCmd)
	errs = append(errs, err)
	for _, kv := range c.NewEnv {
		if !strings.Contains(kv, "=") {
			errs = append(errs, fmt.Errorf("--new-env %q: want KEY=VALUE", kv))
		}
	}
	if len(c.NewLabel) > 0 {
		ch.Labels = map[string]string{}
		for _, kv := range c.NewLabel {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				errs = append(errs, fmt.Errorf("--new-label %q: want KEY=VALUE", kv))
			}
			ch.Labels[k] = v
		}
	}

	bo := builder.Options{Address: c.Buildkit, StateDir: g.StatePath + "/buildkit"}
	for _, o := range c.Output {
		out, err := builder.ParseOutput(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("--output %q: %w", o, err))
		}
		bo.Outputs = append(bo.Outputs, out)
	}
	if c.ShowBlogs {
		bo.Progress = os.Stderr
	}
	if err := errors.Join(errs...); err != nil {
		return session.BuildOptions{}, err
	}
	return session.BuildOptions{Files: fo, Tag: c.Tag, Changes: ch, Builder: bo, FilesetTimeout: c.FilesetTimeout,
		Deliver: session.DeliverOptions{Runtime: c.TargetRuntime, Push: c.Push}}, nil
}

// capFlag turns a cap flag (0: no cap) into fileset's form (negative: no
// cap).
func capFlag(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
