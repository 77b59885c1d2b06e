package registry

import (
	"net/http"
	"net/http/pprof"
)

// handlePProf serves Go's runtime profiles under /debug/pprof/ on the debug
// listener (debug.pprof): operators only, never on the public one.
func handlePProf(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
