package image

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pull fetches the image ref (normalised) from its registry, for this
// platform only, under ctx's lease, not yet named in the store: Resolve
// names it once it unpacked, so a failed pull leaves no image record.
func (r *Store) pull(ctx context.Context, ref string) (images.Image, Origin, error) {
	host, err := registryHost(ref)
	if err != nil {
		return images.Image{}, Origin{}, err
	}
	origin := Origin{FromRegistry, "registry " + host}
	ctx = withContainerdLog(ctx)
	fail := func(err error) (images.Image, Origin, error) {
		return images.Image{}, Origin{}, fmt.Errorf("pulling %s from registry %s: %w", ref, host, r.explain(host, err))
	}
	resolver, err := r.resolver(ctx)
	if err != nil {
		return fail(err)
	}
	logger(ctx).Info().Str("image", ref).Str("registry", host).Msg("pulling image")
	name, desc, err := resolver.Resolve(ctx, ref)
	if errdefs.IsNotFound(err) {
		return images.Image{}, Origin{}, fmt.Errorf("%w: registry %s has no %s", ErrImageNotFound, host, ref)
	} else if err != nil {
		return fail(err)
	}
	if desc.MediaType == images.MediaTypeDockerSchema1Manifest {
		return fail(fmt.Errorf("%s is a Docker schema 1 image, which containerd no longer reads; push it again with a current client", ref))
	}
	fetcher, err := resolver.Fetcher(ctx, name)
	if err != nil {
		return fail(err)
	}
	cs := r.client.ContentStore()
	// Fetch the index, if any, then only the manifest that fits this
	// platform best, with its config and layers; label each blob as its
	// parent's child so the image record alone keeps them once named.
	children := images.LimitManifests(
		images.FilterPlatforms(images.SetChildrenLabels(cs, images.ChildrenHandler(cs)), platforms.Default()),
		platforms.Default(), 1)
	source, err := docker.AppendDistributionSourceLabel(cs, ref)
	if err != nil {
		return fail(err)
	}
	if err := images.Dispatch(ctx, images.Handlers(remotes.FetchHandler(cs, fetcher), children, source), nil, desc); err != nil {
		return fail(err)
	}
	if _, err := images.Manifest(ctx, cs, desc, platforms.Default()); err != nil {
		return fail(fmt.Errorf("no image for platform %s: %w", platforms.DefaultString(), err))
	}
	logger(ctx).Info().Str("image", ref).Str("digest", desc.Digest.String()).Msg("pulled image")
	return images.Image{Name: ref, Target: desc}, origin, nil
}

// Push pushes img, which the store holds, to the registry of ref (a name
// as docker takes it: my/app:slim is docker.io/my/app:slim). An index is
// pushed as the manifest for this platform alone.
func (r *Store) Push(ctx context.Context, img *Image, ref string) error {
	ctx = withContainerdLog(r.nsctx(ctx))
	norm, err := Normalize(ref)
	if err != nil {
		return err
	}
	host, err := registryHost(norm)
	if err != nil {
		return err
	}
	desc, err := platformManifest(ctx, r.client.ContentStore(), img.Target)
	if err != nil {
		return fmt.Errorf("pushing %s: %w", img.Name, err)
	}
	resolver, err := r.resolver(ctx)
	if err != nil {
		return fmt.Errorf("pushing %s to registry %s: %w", norm, host, err)
	}
	logger(ctx).Info().Str("image", img.Name).Str("ref", norm).Str("registry", host).Msg("pushing image")
	if err := r.client.Push(ctx, norm, desc, containerd.WithResolver(resolver), containerd.WithPlatformMatcher(platforms.Default())); err != nil {
		return fmt.Errorf("pushing %s to registry %s: %w", norm, host, r.explain(host, err))
	}
	logger(ctx).Info().Str("ref", norm).Str("digest", desc.Digest.String()).Msg("pushed image")
	return nil
}

// platformManifest is target itself when it is a manifest, else the
// manifest in the index that fits this platform best.
func platformManifest(ctx context.Context, cs content.Store, target ocispec.Descriptor) (ocispec.Descriptor, error) {
	var found []ocispec.Descriptor
	pick := images.HandlerFunc(func(ctx context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if images.IsManifestType(d.MediaType) {
			found = append(found, d)
			return nil, images.ErrStopHandler
		}
		return nil, nil
	})
	children := images.LimitManifests(images.FilterPlatforms(images.ChildrenHandler(cs), platforms.Default()), platforms.Default(), 1)
	if err := images.Walk(ctx, images.Handlers(pick, children), target); err != nil {
		return ocispec.Descriptor{}, err
	}
	if len(found) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("no image for platform %s", platforms.DefaultString())
	}
	return found[0], nil
}

// registryHost is the registry part of a normalised name (docker.io,
// 127.0.0.1:5000).
func registryHost(ref string) (string, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", ref, err)
	}
	return reference.Domain(n), nil
}

// explain adds what the user can do to a registry's refusal.
func (r *Store) explain(host string, err error) error {
	var st remoteerrors.ErrUnexpectedStatus
	denied := errors.Is(err, docker.ErrInvalidAuthorization) ||
		(errors.As(err, &st) && (st.StatusCode == http.StatusUnauthorized || st.StatusCode == http.StatusForbidden))
	if !denied {
		return err
	}
	p, _ := dockerConfigPath(r.opts.RegistryAuth)
	return fmt.Errorf("%w (access denied: check the credentials for %s in %s, e.g. with docker login %s)", err, host, p, host)
}

// resolver returns a resolver for docker registries with this store's
// credentials and TLS settings (see registryHosts).
func (r *Store) resolver(ctx context.Context) (remotes.Resolver, error) {
	cfg, err := loadDockerConfig(r.opts.RegistryAuth)
	if err != nil {
		return nil, err
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: r.registryHosts(ctx, cfg)}), nil
}

// registryHosts says how to reach a registry, as Docker does: docker.io is
// registry-1.docker.io; HTTPS with the system's CAs (SSL_CERT_FILE and
// SSL_CERT_DIR are honoured); a loopback registry or one in
// Options.InsecureRegistries may fall back to plain HTTP when it does not
// speak TLS, and the certificate of one in InsecureRegistries is not
// checked. Basic and bearer token auth both use the credentials cfg has
// for the registry. Each registry is set up once, so its tokens are reused
// by every request of the resolver.
func (r *Store) registryHosts(ctx context.Context, cfg *dockerConfig) docker.RegistryHosts {
	var (
		mu   sync.Mutex
		made = map[string][]docker.RegistryHost{}
	)
	return func(host string) ([]docker.RegistryHost, error) {
		mu.Lock()
		defer mu.Unlock()
		if hs, ok := made[host]; ok {
			return hs, nil
		}
		tr, fallback := r.transport(host)
		var rt http.RoundTripper = tr
		if fallback {
			rt = docker.NewHTTPFallback(tr)
		}
		client := &http.Client{Transport: rt}
		auth := docker.NewDockerAuthorizer(docker.WithAuthClient(client), docker.WithAuthCreds(r.credentialsFunc(ctx, cfg, host)))
		endpoint := host
		if host == "docker.io" {
			endpoint = "registry-1.docker.io"
		}
		made[host] = []docker.RegistryHost{{
			Client:     client,
			Authorizer: auth,
			Host:       endpoint,
			Scheme:     "https",
			Path:       "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve | docker.HostCapabilityPush |
				docker.HostCapabilityReferrers,
		}}
		return made[host], nil
	}
}

// transport is how requests reach registry host over TLS, and fallback
// whether they may fall back to plain HTTP.
func (r *Store) transport(host string) (tr *http.Transport, fallback bool) {
	insecure := r.insecure(host)
	return docker.DefaultHTTPTransport(&tls.Config{InsecureSkipVerify: insecure}), insecure || docker.IsLocalhost(host)
}

// credentialsFunc looks host's credentials up once, when the registry first
// asks for them, and never logs the secret.
func (r *Store) credentialsFunc(ctx context.Context, cfg *dockerConfig, host string) func(string) (string, string, error) {
	once := sync.OnceValues(func() (credentials, error) {
		cr, err := cfg.lookup(host)
		if err != nil {
			return cr, err
		}
		if cr.secret == "" {
			logger(ctx).Debug().Str("registry", host).Msg("no registry credentials: anonymous")
		} else {
			logger(ctx).Debug().Str("registry", host).Str("user", cr.user).Str("from", cr.from).Msg("using registry credentials")
		}
		return cr, nil
	})
	return func(string) (string, string, error) {
		cr, err := once()
		return cr.user, cr.secret, err
	}
}

// insecure reports whether host is in Options.InsecureRegistries, as
// HOST[:PORT] (a scheme is ignored) or as a CIDR that holds its address.
func (r *Store) insecure(host string) bool {
	ip := net.ParseIP(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		ip = net.ParseIP(h)
	}
	for _, e := range r.opts.InsecureRegistries {
		if i := strings.Index(e, "://"); i >= 0 {
			e = e[i+3:]
		}
		e = strings.TrimSuffix(e, "/")
		if e == host {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}
