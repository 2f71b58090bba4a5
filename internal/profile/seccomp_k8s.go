package profile

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
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
	_, err := fmt.Fprintf(w, `# The seccomp profile must be on every node that may run this pod, at
# %s/%s
apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  securityContext:
    seccompProfile:
      type: Localhost
      localhostProfile: %s
  containers:
    - name: %s
      image: %s
`, KubeletSeccompDir, o.LocalhostProfile, o.Name, yamlString(o.LocalhostProfile), o.Name, yamlString(o.Image))
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
	var b strings.Builder
	b.WriteString("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n", o.Name)
	if o.Namespace != "" {
		fmt.Fprintf(&b, "  namespace: %s\n", o.Namespace)
	}
	fmt.Fprintf(&b, "spec:\n  defaultAction: %s\n", oci.DefaultAction)
	if len(oci.Architectures) > 0 {
		b.WriteString("  architectures:\n")
		for _, a := range oci.Architectures {
			fmt.Fprintf(&b, "    - %s\n", a)
		}
	}
	if len(oci.Syscalls) > 0 {
		b.WriteString("  syscalls:\n")
	}
	for _, s := range oci.Syscalls {
		fmt.Fprintf(&b, "    - action: %s\n", s.Action)
		if s.ErrnoRet != nil {
			fmt.Fprintf(&b, "      errnoRet: %d\n", *s.ErrnoRet)
		}
		b.WriteString("      names:\n")
		for _, n := range s.Names {
			fmt.Fprintf(&b, "        - %s\n", yamlString(n))
		}
		if len(s.Args) > 0 {
			b.WriteString("      args:\n")
			for _, a := range s.Args {
				writeSPOArg(&b, a)
			}
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func writeSPOArg(b *strings.Builder, a specs.LinuxSeccompArg) {
	fmt.Fprintf(b, "        - index: %d\n", a.Index)
	if a.Value != 0 {
		fmt.Fprintf(b, "          value: %d\n", a.Value)
	}
	if a.ValueTwo != 0 {
		fmt.Fprintf(b, "          valueTwo: %d\n", a.ValueTwo)
	}
	fmt.Fprintf(b, "          op: %s\n", a.Op)
}

// plainYAML is a scalar YAML reads as the same string without quotes.
var plainYAML = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*$`)

// yamlString quotes s unless it is a plain scalar that YAML would not read
// as something else (a number, a boolean, null).
func yamlString(s string) string {
	if plainYAML.MatchString(s) && !yamlSpecial(s) {
		return s
	}
	return strconv.Quote(s) // a JSON string is a YAML double-quoted scalar
}

func yamlSpecial(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", ".nan":
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
