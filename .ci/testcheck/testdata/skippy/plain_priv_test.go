package skippy

import "testing"

func TestPriv(t *testing.T) { t.Skip("needs root") }
