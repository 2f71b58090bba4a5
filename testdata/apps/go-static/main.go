// Command go-static is a slimtrace fixture: a static Go HTTP server whose
// routes read their files only when first asked for them, so a trace of the
// start-up alone misses them.
//
//	/           HTML from $TEMPLATES/index.html, parsed at the first request
//	/api/time   JSON; ?tz=Area/City loads that zone from /usr/share/zoneinfo
//	/data/...   files from $DATA_DIR
//	/healthz    "ok"
package main

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// reference is the instant /api/time also renders, so its answer holds a
// part that does not change between runs.
var reference = time.Unix(1704067200, 0)

func main() {
	addr := envOr("ADDR", ":8080")
	templates := envOr("TEMPLATES", "/srv/templates")
	data := envOr("DATA_DIR", "/srv/data")

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", index(filepath.Join(templates, "index.html")))
	mux.HandleFunc("GET /api/time", apiTime)
	mux.Handle("GET /data/", http.StripPrefix("/data/", http.FileServer(http.Dir(data))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})

	srv := &http.Server{Addr: addr, Handler: logged(mux), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("go-static listening on %s", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// index renders the page template, read and parsed at the first request.
func index(path string) http.Handler {
	load := sync.OnceValues(func() (*template.Template, error) { return template.ParseFiles(path) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := load()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		t.Execute(w, map[string]string{"Go": runtime.Version()})
	})
}

// apiTime reports the time in the zone named by ?tz (UTC by default). A named
// zone is read from the zoneinfo files the first time it is asked for.
func apiTime(w http.ResponseWriter, r *http.Request) {
	loc := time.UTC
	if tz := r.URL.Query().Get("tz"); tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	now := time.Now().In(loc)
	zone, offset := now.Zone()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"zone":      zone,
		"offset":    offset,
		"now":       now.Format(time.RFC3339),
		"reference": reference.In(loc).Format(time.RFC3339),
	})
}

func logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.RequestURI())
		h.ServeHTTP(w, r)
	})
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
