package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// dockerExport asks the Docker daemon at host (unix:///path or tcp://h:p) for
// a docker-archive of the image name (GET /images/{name}/get).
func dockerExport(ctx context.Context, host, name string) (io.ReadCloser, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	tr := &http.Transport{}
	base := url.URL{Scheme: "http"}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		base.Host = "docker"
	case "tcp", "http":
		base.Host = u.Host
	default:
		return nil, fmt.Errorf("docker host %q: want unix:///PATH or tcp://HOST:PORT", host)
	}
	base.Path = "/images/" + name + "/get"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("docker-daemon:%s: %w", name, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker daemon at %s is unreachable (start dockerd or pass --docker-host): %w", host, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var msg struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("docker daemon at %s: exporting %q: %s (%s)", host, name, msg.Message, resp.Status)
	}
	return resp.Body, nil
}

// tarDir writes the regular files and directories under dir to w as a tar,
// with paths relative to dir.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := os.Stat(p) // follows symlinks: layouts may link blobs
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
