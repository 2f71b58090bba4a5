package image

import (
	"context"
	"io"

	"github.com/containerd/log"
	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
)

// logger returns the logger carried in ctx (a disabled one when none is).
func logger(ctx context.Context) *zerolog.Logger {
	return zerolog.Ctx(ctx)
}

// withContainerdLog makes what containerd's client code logs in ctx (its
// registry client logs through logrus, to stderr) go to ctx's logger at
// debug level instead: the message, its error and the registry URL.
func withContainerdLog(ctx context.Context) context.Context {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.InfoLevel)
	l.AddHook(containerdLogHook{logger(ctx)})
	return log.WithLogger(ctx, logrus.NewEntry(l))
}

type containerdLogHook struct{ log *zerolog.Logger }

func (containerdLogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h containerdLogHook) Fire(e *logrus.Entry) error {
	ev := h.log.Debug().Str("from", "containerd")
	for _, k := range []string{"host", "url", "digest"} {
		if v, ok := e.Data[k]; ok {
			ev = ev.Interface(k, v)
		}
	}
	if err, ok := e.Data[logrus.ErrorKey].(error); ok {
		ev = ev.Err(err)
	}
	ev.Msg(e.Message)
	return nil
}
