package registry

import "net/http"

// noSniff wraps next so that every answer carries X-Content-Type-Options:
// nosniff: a browser takes each answer as the type it declares (JSON,
// event streams, plain text), never as a page guessed from its bytes,
// some of which a pusher wrote (repository names, labels, findings).
// Distribution already sets it on /v2/; the UI on its pages (ui/headers.go).
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
