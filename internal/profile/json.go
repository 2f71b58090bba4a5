package profile

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes v (a *seccomp.Seccomp or a *specs.LinuxSeccomp) as JSON
// with a stable layout: two-space indent, fields in struct order, no HTML
// escaping, and a trailing newline.
func WriteJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil { // Encode ends with a newline
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}
