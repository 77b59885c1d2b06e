package auth

import "net/http"

// IsAdmin reports whether r carries a valid imagegate token of an
// administrator. Unlike AllowAdmin it answers nothing.
func (s *Service) IsAdmin(r *http.Request) bool {
	c := s.bearerClaims(r)
	return c != nil && c.Admin
}
