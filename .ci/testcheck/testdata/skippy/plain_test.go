package skippy

import "testing"

func TestPlain(t *testing.T) {
	t.Run("sub", func(t *testing.T) { t.Skip("needs root") })
}

func TestPlainPasses(t *testing.T) {}
