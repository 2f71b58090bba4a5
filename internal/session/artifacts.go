package session

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slimtrace/slimtrace/internal/profile"
	"github.com/slimtrace/slimtrace/internal/report"
)

// ArtifactName is the short name artifacts of an image are named after:
// the last component of its repository ("python-app" for
// docker.io/library/python-app:latest).
func ArtifactName(image string) string {
	name := image
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "image"
	}
	return b.String()
}

// ArtifactDir is where a run of the image with id keeps its artifacts.
func ArtifactDir(statePath, imageID string) string {
	return filepath.Join(statePath, "images", strings.TrimPrefix(imageID, "sha256:"), "artifacts")
}

// WriteArtifacts writes creport.json, the seccomp profile (moby JSON, the
// kubelet's file with a pod using it, an SPO SeccompProfile) and the
// AppArmor profile of res into dir, and records their paths in the report.
func WriteArtifacts(res *Result, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the artifact directory: %w", err)
	}
	name := ArtifactName(res.Image.Name)
	rep := res.Report
	rep.Artifacts.Dir = dir
	rep.Artifacts.Report = filepath.Join(dir, "creport.json")
	rep.Artifacts.Seccomp = filepath.Join(dir, name+"-seccomp.json")
	rep.Artifacts.SeccompKubelet = filepath.Join(dir, name+"-seccomp-k8s.json")
	rep.Artifacts.SeccompPod = filepath.Join(dir, name+"-seccomp-pod.yaml")
	rep.Artifacts.SeccompSPO = filepath.Join(dir, name+"-seccomp-spo.yaml")
	rep.Artifacts.AppArmor = filepath.Join(dir, name+"-apparmor")

	if err := writeSeccomp(res, name); err != nil {
		return err
	}
	aa, err := profile.AppArmor(withoutSetup(res.Trace), profile.AppArmorOptions{Name: profile.ProfileName(res.Image.Name),
		IsDir: res.isDir})
	if err != nil {
		return fmt.Errorf("making the AppArmor profile: %w", err)
	}
	if err := os.WriteFile(rep.Artifacts.AppArmor, []byte(aa), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", rep.Artifacts.AppArmor, err)
	}
	return rep.Write(rep.Artifacts.Report)
}

// writeSeccomp writes the seccomp artifacts and fills the report's
// comparison with Docker's default profile.
func writeSeccomp(res *Result, name string) error {
	a := &res.Report.Artifacts
	sec, err := profile.Seccomp(res.Trace, profile.SeccompOptions{})
	if err != nil {
		return fmt.Errorf("making the seccomp profile: %w", err)
	}
	if err := writeWith(a.Seccomp, func(f *os.File) error { return profile.WriteJSON(f, sec) }); err != nil {
		return err
	}
	if err := writeWith(a.SeccompKubelet, func(f *os.File) error { return profile.WriteKubelet(f, sec) }); err != nil {
		return err
	}
	k8sName := profile.KubernetesName(name)
	image := res.Image.Name
	if image == "" {
		image = name
	}
	pod := profile.PodOptions{Name: k8sName, Image: image, LocalhostProfile: profile.KubeletProfilePath(k8sName)}
	if err := writeWith(a.SeccompPod, func(f *os.File) error { return profile.KubernetesPod(f, pod) }); err != nil {
		return err
	}
	spo := profile.SPOOptions{Name: k8sName}
	if err := writeWith(a.SeccompSPO, func(f *os.File) error { return profile.WriteSPO(f, sec, spo) }); err != nil {
		return err
	}
	t, err := profile.SeccompTightness(sec)
	if err != nil {
		return fmt.Errorf("comparing the seccomp profile with Docker's: %w", err)
	}
	res.Report.Seccomp = &report.Seccomp{Arch: string(t.Arch), Allowed: t.Allowed, DockerDefault: t.DockerDefault,
		Fraction: t.Fraction, NotInDockerDefault: t.NotInDockerDefault}
	return nil
}

func writeWith(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// CopyArtifacts copies the artifact files into dir (--copy-meta-artifacts).
func CopyArtifacts(res *Result, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, src := range res.Report.Artifacts.Files() {
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
func RemoveArtifacts(res *Result) error {
	a := res.Report.Artifacts
	for _, p := range a.Files() {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	_ = os.Remove(a.Dir)
	return nil
}
