package main

import (
	"fmt"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/slimtrace/slimtrace/internal/docker"
	"github.com/slimtrace/slimtrace/internal/image"
)

// imageFlags say where an image is looked for and how it is pulled; the
// commands that read images (profile, build, verify, info) share them.
type imageFlags struct {
	Containerd       string   `help:"containerd's socket." default:"/run/containerd/containerd.sock" env:"CONTAINERD_ADDRESS" group:"Image"`
	Namespace        string   `help:"containerd namespace to look the image up in and run it (Docker >= 29 keeps images in 'moby', Kubernetes in 'k8s.io'); Docker's images are found without it." default:"default" env:"CONTAINERD_NAMESPACE" group:"Image"`
	Pull             pullFlag `help:"Pull the image from its registry when neither containerd nor Docker has it (--pull), or always (--pull=always); never by default. docker://REF sources are always pulled." placeholder:"always|missing|never" group:"Image"`
	RegistryAuth     string   `help:"Docker config file (config.json: auths, credsStore, credHelpers) with registry credentials. Default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json." type:"existingfile" placeholder:"FILE" group:"Image"`
	InsecureRegistry []string `help:"Registry HOST[:PORT] to reach over plain HTTP, or TLS without checking its certificate (localhost and 127.0.0.0/8 always may be) (repeatable)." placeholder:"HOST" group:"Image"`
}

// storeOptions are the image store's options from these flags and the
// global Docker connection flags.
func (f *imageFlags) storeOptions(g *Globals) image.Options {
	verify := g.TLSVerify
	return image.Options{Address: f.Containerd, Namespace: f.Namespace, StatePath: g.StatePath,
		Docker: docker.Options{Host: g.Host, TLS: g.TLS, TLSVerify: &verify, CertPath: g.TLSCertPath},
		Pull:   string(f.Pull), RegistryAuth: f.RegistryAuth, InsecureRegistries: f.InsecureRegistry}
}

// pullFlag is --pull (missing), --pull=always|missing|never, as Docker's
// `docker run --pull`.
type pullFlag string

func (p *pullFlag) IsBool() bool { return true }

func (p *pullFlag) Decode(ctx *kong.DecodeContext) error {
	*p = image.PullMissing
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		return nil
	}
	v := strings.ToLower(fmt.Sprint(ctx.Scan.Pop().Value))
	switch v {
	case image.PullAlways, image.PullMissing, image.PullNever:
		*p = pullFlag(v)
	case "true":
		*p = image.PullMissing
	case "false":
		*p = image.PullNever
	default:
		return fmt.Errorf("--pull=%s: want always, missing or never", v)
	}
	return nil
}
