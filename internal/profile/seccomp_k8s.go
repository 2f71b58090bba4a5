package profile

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"sigs.k8s.io/yaml"
)

// KubeletSeccompDir is the kubelet's default seccomp root
// (--seccomp-profile-root before it was removed, now fixed): a pod's
// localhostProfile is a path relative to it.
const KubeletSeccompDir = "/var/lib/kubelet/seccomp"

// WriteKubelet writes p as the file a kubelet reads for a Localhost
// seccomp profile (KubeletSeccompDir/profiles/NAME.json). The kubelet hands
// the file to the runtime: containerd's CRI decodes it straight into the
// runtime-spec linux.seccomp struct (an archMap would be ignored there, and
// with it every sub-architecture), CRI-O reads moby's form, which accepts
// the same fields. So the file is the OCI form: a flat architectures list
// and names per rule, readable by both.
func WriteKubelet(w io.Writer, p *seccomp.Seccomp) error {
	oci, err := OCI(p)
	if err != nil {
		return err
	}
	return WriteJSON(w, oci)
}

// KubeletProfilePath is the localhostProfile of a profile named name
// installed as KubeletSeccompDir/profiles/NAME.json.
func KubeletProfilePath(name string) string { return "profiles/" + name + ".json" }

// PodOptions name what KubernetesPod writes.
type PodOptions struct {
	// Name of the pod and its container; it must be a DNS-1123 label.
	Name string
	// Image the container runs.
	Image string
	// LocalhostProfile is the profile's path relative to
	// KubeletSeccompDir (KubeletProfilePath, or SPO's
	// operator/NAMESPACE/NAME.json).
	LocalhostProfile string
}

// dnsLabel is what Kubernetes accepts as a pod or container name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// KubernetesName turns an artifact name into a DNS-1123 label: lower case,
// other characters as '-', at most 63 characters.
func KubernetesName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if len(n) > 63 {
		n = strings.Trim(n[:63], "-")
	}
	if n == "" {
		return "app"
	}
	return n
}

// KubernetesPod writes a pod manifest whose security context uses a
// Localhost seccomp profile: the snippet to copy into a real pod spec.
func KubernetesPod(w io.Writer, o PodOptions) error {
	if !dnsLabel.MatchString(o.Name) {
		return fmt.Errorf("pod name %q is not a DNS-1123 label", o.Name)
	}
	if o.Image == "" || o.LocalhostProfile == "" {
		return errors.New("a pod needs an image and a localhost profile")
	}
	if strings.HasPrefix(o.LocalhostProfile, "/") || strings.Contains("/"+o.LocalhostProfile+"/", "/../") {
		return fmt.Errorf("localhost profile %q must be a descending path relative to %s", o.LocalhostProfile,
			KubeletSeccompDir)
	}
	_, err := fmt.Fprintf(w, "# The seccomp profile must be on every node that may run this pod, at\n# %s/%s\n",
		KubeletSeccompDir, o.LocalhostProfile)
	if err != nil {
		return err
	}
	var pod struct {
		typeMeta
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			SecurityContext struct {
				SeccompProfile struct {
					Type             string `json:"type"`
					LocalhostProfile string `json:"localhostProfile"`
				} `json:"seccompProfile"`
			} `json:"securityContext"`
			Containers []podContainer `json:"containers"`
		} `json:"spec"`
	}
	pod.typeMeta = typeMeta{APIVersion: "v1", Kind: "Pod"}
	pod.Metadata.Name = o.Name
	pod.Spec.SecurityContext.SeccompProfile.Type = "Localhost"
	pod.Spec.SecurityContext.SeccompProfile.LocalhostProfile = o.LocalhostProfile
	pod.Spec.Containers = []podContainer{{Name: o.Name, Image: o.Image}}
	return writeYAML(w, pod)
}

// typeMeta and objectMeta are the fields of Kubernetes' own types the
// manifests use.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

type objectMeta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type podContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// SPOOptions name the SeccompProfile object WriteSPO writes.
type SPOOptions struct {
	Name      string // a DNS-1123 label
	Namespace string // empty: the manifest names none
}

// WriteSPO writes p as a Security Profiles Operator SeccompProfile
// (security-profiles-operator.x-k8s.io/v1beta1). The operator writes it to
// every node as KubeletSeccompDir/operator/NAMESPACE/NAME.json; a pod uses
// it with localhostProfile: operator/NAMESPACE/NAME.json.
//
// The CRD's spec has defaultAction, architectures (SCMP_ARCH_*) and
// syscalls {names, action, errnoRet, args}, but no defaultErrnoRet: a
// profile whose default action is SCMP_ACT_ERRNO returns EPERM there, the
// runtime's default, so a profile with another default errno is refused
// rather than silently changed. A rule's errnoRet is written as a number
// (the CRD has had it as an integer and, in some releases, a string);
// profiles made from a trace have no such rule, only merged or hand-written
// ones may.
func WriteSPO(w io.Writer, p *seccomp.Seccomp, o SPOOptions) error {
	if !dnsLabel.MatchString(o.Name) {
		return fmt.Errorf("SeccompProfile name %q is not a DNS-1123 label", o.Name)
	}
	if o.Namespace != "" && !dnsLabel.MatchString(o.Namespace) {
		return fmt.Errorf("namespace %q is not a DNS-1123 label", o.Namespace)
	}
	oci, err := OCI(p)
	if err != nil {
		return err
	}
	if oci.ListenerPath != "" || len(oci.Flags) > 0 {
		return errors.New("listener paths and filter flags are not rendered for the operator")
	}
	if e := oci.DefaultErrnoRet; e != nil && *e != errnoEPERM {
		return fmt.Errorf("default errno %d: a SeccompProfile has no defaultErrnoRet (EPERM only)", *e)
	}
	var sp struct {
		typeMeta
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			DefaultAction specs.LinuxSeccompAction `json:"defaultAction"`
			Architectures []specs.Arch             `json:"architectures,omitempty"`
			Syscalls      []specs.LinuxSyscall     `json:"syscalls,omitempty"`
		} `json:"spec"`
	}
	sp.typeMeta = typeMeta{APIVersion: "security-profiles-operator.x-k8s.io/v1beta1", Kind: "SeccompProfile"}
	sp.Metadata = objectMeta{Name: o.Name, Namespace: o.Namespace}
	sp.Spec.DefaultAction, sp.Spec.Architectures, sp.Spec.Syscalls = oci.DefaultAction, oci.Architectures, oci.Syscalls
	return writeYAML(w, sp)
}
