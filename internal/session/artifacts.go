package session

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/distribution/reference"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/profile"
)

// SlimName is the default tag of the slim image of name: ".slim" appended to
// the repository, the tag kept (app:1.2 -> docker.io/library/app.slim:1.2;
// a reference by digest alone gets "latest").
func SlimName(name string) string {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name + ".slim"
	}
	tag := "latest"
	if t, ok := n.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return n.Name() + ".slim:" + tag
}

// ArtifactName is the short name artifacts of an image are named after:
// the last component of its repository's path ("python-app" for
// docker.io/library/python-app:latest).
func ArtifactName(image string) string {
	n, err := reference.ParseDockerRef(image)
	if err != nil {
		return "image"
	}
	return path.Base(reference.Path(n))
}

// ArtifactDir is where a run of the image with id keeps its artifacts.
func ArtifactDir(statePath, imageID string) string {
	return filepath.Join(statePath, "images", strings.TrimPrefix(imageID, "sha256:"), "artifacts")
}

// Artifacts names the artifact files of image in dir: creport.json, the
// seccomp profile in moby's JSON, for the kubelet with a pod using it and
// as an SPO SeccompProfile, and the AppArmor profile.
func Artifacts(dir, image string) creport.Artifacts {
	return ArtifactsNamed(dir, ArtifactName(image))
}

// ArtifactsNamed names the artifact files of name (a workload group) in
// dir, as Artifacts does.
func ArtifactsNamed(dir, name string) creport.Artifacts {
	return creport.Artifacts{
		Dir:            dir,
		Report:         filepath.Join(dir, "creport.json"),
		Seccomp:        filepath.Join(dir, name+"-seccomp.json"),
		SeccompKubelet: filepath.Join(dir, name+"-seccomp-k8s.json"),
		SeccompPod:     filepath.Join(dir, name+"-seccomp-pod.yaml"),
		SeccompSPO:     filepath.Join(dir, name+"-seccomp-spo.yaml"),
		AppArmor:       filepath.Join(dir, name+"-apparmor"),
	}
}

// WriteArtifacts writes the report and the profiles to the files the
// report's Artifacts name.
func WriteArtifacts(rep *creport.Container, p *Profiles) error {
	a := rep.Artifacts
	k8sName := profile.KubernetesName(strings.TrimSuffix(filepath.Base(a.Seccomp), "-seccomp.json"))
	pod := profile.PodOptions{Name: k8sName, Image: rep.Image.Name, LocalhostProfile: profile.KubeletProfilePath(k8sName)}
	writes := []struct {
		path  string
		write func(io.Writer) error
	}{
		{a.Seccomp, func(w io.Writer) error { return profile.WriteJSON(w, p.Seccomp) }},
		{a.SeccompKubelet, func(w io.Writer) error { return profile.WriteKubelet(w, p.Seccomp) }},
		{a.SeccompPod, func(w io.Writer) error { return profile.KubernetesPod(w, pod) }},
		{a.SeccompSPO, func(w io.Writer) error { return profile.WriteSPO(w, p.Seccomp, profile.SPOOptions{Name: k8sName}) }},
		{a.AppArmor, func(w io.Writer) error { _, err := io.WriteString(w, p.AppArmor); return err }},
		{a.Report, rep.Encode},
	}
	for _, f := range writes {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		if err := WritePrivate(f.path, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// WritePrivate writes an artifact under the state path: the file 0600 in
// a directory 0700 (made with its parents when missing), only root reads
// them; a link where the file goes is not followed.
func WritePrivate(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(b)
	if cerr := f.Chmod(0o600); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// CopyArtifacts copies the artifact files into dir (--copy-meta-artifacts).
func CopyArtifacts(a creport.Artifacts, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, src := range a.Files() {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
			return fmt.Errorf("copying %s: %w", filepath.Base(src), err)
		}
	}
	return nil
}

// RemoveArtifacts removes the artifact files (--remove-file-artifacts).
func RemoveArtifacts(a creport.Artifacts) error {
	for _, p := range a.Files() {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	_ = os.Remove(a.Dir)
	return nil
}
