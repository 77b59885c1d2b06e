package trivy_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// TestRefreshIgnoresNextUpdate: Update leaves a DB alone until its
// NextUpdate; Refresh (a scanner behind its pool's pin) downloads a newer
// published DB at once.
func TestRefreshIgnoresNextUpdate(t *testing.T) {
	reg := trivytest.NewRegistry(t)
	now := time.Now().UTC().Truncate(time.Second)
	v1 := filepath.Join(t.TempDir(), "db")
	trivytest.WriteDB(t, v1, now, scantest.Advisories()) // NextUpdate: tomorrow
	repo := reg.PublishDB(t, "mirror/trivy-db:2", v1)
	s := open(t, trivy.Options{DBRepository: repo})
	if err := s.Update(t.Context()); err != nil {
		t.Fatalf("Update: %v", err)
	}

	v2 := filepath.Join(t.TempDir(), "db")
	trivytest.WriteDB(t, v2, now.Add(time.Hour), scantest.Advisories())
	reg.PublishDB(t, "mirror/trivy-db:2", v2)
	if err := s.Update(t.Context()); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if st := s.Status(t.Context()); !st.DBUpdatedAt.Equal(now) {
		t.Fatalf("Status after Update before NextUpdate = %+v, want the DB of %v still", st, now)
	}
	if err := s.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if st := s.Status(t.Context()); !st.Ready || !st.DBUpdatedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("Status after Refresh = %+v, want the DB of %v", st, now.Add(time.Hour))
	}
}
