package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) metadata.Store {
		s, err := Open(filepath.Join(t.TempDir(), "metadata.db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSecondOpenFailsWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path, 50*time.Millisecond); err == nil {
		t.Fatal("a locked file was opened twice")
	}
}

func TestRecordsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "a/b", Status: metadata.StatusAccepted}
	if err := s.Put(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(t.Context(), r.ID); err != nil {
		t.Fatalf("record lost across reopen: %v", err)
	}
}
