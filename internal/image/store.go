package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/slimtrace/slimtrace/internal/docker"
)

// Pull policies for Options.Pull.
const (
	PullNever   = "never"
	PullMissing = "missing"
	PullAlways  = "always"
)

// Defaults for Options.
const (
	DefaultAddress     = "/run/containerd/containerd.sock"
	DefaultNamespace   = "default"
	DefaultStatePath   = "/run/slimtrace"
	DefaultSnapshotter = "overlayfs"
)

// Options says which containerd to use and where per-run state lives.
type Options struct {
	// Address of containerd's socket; default $CONTAINERD_ADDRESS, else
	// DefaultAddress.
	Address string
	// Namespace in containerd; default $CONTAINERD_NAMESPACE, else "default".
	Namespace string
	// StatePath holds a directory per run (network namespace, hosts files,
	// fifos, anonymous volumes); default DefaultStatePath.
	StatePath string
	// Docker says how to reach Docker Engine, where a bare name is looked
	// for after containerd, docker-daemon: sources come from and the slim
	// image of a Docker image goes.
	Docker docker.Options
	// Pull says when a bare name is pulled from its registry: PullNever
	// (the default: only local stores), PullMissing (--pull: when no local
	// store has it) or PullAlways. docker:// sources are always pulled.
	Pull string
	// RegistryAuth is a Docker config file (config.json: auths, credsStore,
	// credHelpers) with registry credentials; default
	// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
	RegistryAuth string
	// InsecureRegistries are registry hosts (HOST[:PORT], or a CIDR)
	// reached over plain HTTP when they do not speak TLS, or over TLS
	// without checking the certificate, as Docker's insecure-registries.
	// Loopback registries (localhost, 127.0.0.0/8, ::1) may always fall
	// back to plain HTTP, but a certificate they present is checked.
	InsecureRegistries []string
	// Snapshotter to unpack images for; default overlayfs.
	Snapshotter string
}

func (o Options) withDefaults() Options {
	pick := func(v, env, def string) string {
		if v != "" {
			return v
		}
		if e := os.Getenv(env); env != "" && e != "" {
			return e
		}
		return def
	}
	o.Address = pick(o.Address, "CONTAINERD_ADDRESS", DefaultAddress)
	o.Namespace = pick(o.Namespace, "CONTAINERD_NAMESPACE", DefaultNamespace)
	o.StatePath = pick(o.StatePath, "", DefaultStatePath)
	o.Docker = o.Docker.WithDefaults()
	o.Pull = pick(o.Pull, "", PullNever)
	o.Snapshotter = pick(o.Snapshotter, "", DefaultSnapshotter)
	return o
}

// Store is a connection to containerd's image store in one namespace.
type Store struct {
	client *containerd.Client
	opts   Options
	runs   runRecord // what this process created, for PruneStale
}

// Connect connects to containerd and checks that it answers.
func Connect(ctx context.Context, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	howto := fmt.Sprintf("start containerd (systemctl start containerd, or containerd --address %s) or point --containerd / CONTAINERD_ADDRESS at a running one", opts.Address)
	if _, err := os.Stat(opts.Address); err != nil {
		return nil, fmt.Errorf("containerd socket %s: %w; %s", opts.Address, err, howto)
	}
	c, err := containerd.New(opts.Address, containerd.WithDefaultNamespace(opts.Namespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", opts.Address, err)
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := c.Version(namespaces.WithNamespace(vctx, opts.Namespace))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w; %s", opts.Address, err, howto)
	}
	logger(ctx).Debug().Str("address", opts.Address).Str("namespace", opts.Namespace).Str("version", v.Version).Msg("connected to containerd")
	return &Store{client: c, opts: opts}, nil
}

// Close closes the connection. Containers created through it
// (internal/container) must be closed first.
func (r *Store) Close() error {
	return r.client.Close()
}

// Address is the containerd socket in use.
func (r *Store) Address() string { return r.opts.Address }

// Namespace is the containerd namespace in use.
func (r *Store) Namespace() string { return r.opts.Namespace }

// Client is the connection itself, for internal/container, the one other
// package that speaks containerd: containers are made from this store's
// images, in its namespace.
func (r *Store) Client() *containerd.Client { return r.client }

// Options are the store's options, defaults filled in.
func (r *Store) Options() Options { return r.opts }

// nsctx returns ctx carrying the runtime's namespace.
func (r *Store) nsctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.opts.Namespace)
}

// cleanupContext returns a context for cleanup that works even when ctx is
// already cancelled: it keeps ctx's values (logger, namespace) and gets its
// own timeout.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// ErrImageNotFound is wrapped by Resolve's error when no image matches.
var ErrImageNotFound = errors.New("image not found")

// NewID returns an ID for a run or a view, slimtrace-<12 hex digits>: the
// name of its container, snapshot and directory under the state path.
func NewID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "slimtrace-" + hex.EncodeToString(b)
}

// Remove deletes the image record name from the store (its content goes
// with containerd's garbage collection); a missing name is not an error.
func (r *Store) Remove(ctx context.Context, name string) error {
	err := r.client.ImageService().Delete(r.nsctx(ctx), name)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("removing image %s: %w", name, err)
	}
	return nil
}
