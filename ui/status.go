package ui

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/imagegate/imagegate/api"
)

// The status page, for administrators: GET /api/v1/status answered for
// the signed-in person, so the API alone decides who may see it (a
// non-admin gets its 403, shown as the "Administrators only" page).

// statusView is the status page's data: the API's answer, and the DB's
// age in words.
type statusView struct {
	api.Status
	DBAge, DBMaxAge string
	// Stale: the DB is older than scan.maxdbage.
	Stale bool
}

// statusPage answers GET /ui/status.
func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request, s *session) {
	var v statusView
	if err := h.callAPI(r, s, "/api/v1/status", nil, &v.Status); err != nil {
		var e *apiError
		if errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized) {
			h.renderError(w, r, s, http.StatusForbidden, "Administrators only", "Only administrators may see the registry's status.")
			return
		}
		h.apiFailed(w, r, s, err, "status")
		return
	}
	if sc := v.Scanner; sc != nil {
		if sc.AgeSeconds != nil {
			v.DBAge = ageWords(time.Duration(*sc.AgeSeconds) * time.Second)
			v.Stale = sc.MaxAgeSeconds > 0 && *sc.AgeSeconds > sc.MaxAgeSeconds
		}
		if sc.MaxAgeSeconds > 0 {
			v.DBMaxAge = ageWords(time.Duration(sc.MaxAgeSeconds) * time.Second)
		}
	}
	h.render(w, r, s, http.StatusOK, "status", "Registry status", v)
}

// ageWords is d as people read an age: days and hours from two days
// on, hours and minutes below.
func ageWords(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days %d h", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
	return fmt.Sprintf("%d h %d min", d/time.Hour, d%time.Hour/time.Minute)
}
