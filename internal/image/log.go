package image

import (
	"context"

	"github.com/rs/zerolog"
)

// logger returns the logger carried in ctx (a disabled one when none is).
func logger(ctx context.Context) *zerolog.Logger {
	return zerolog.Ctx(ctx)
}
