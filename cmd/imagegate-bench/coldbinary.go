package main

import (
	"fmt"
	"os"
	"syscall"
)

// dropCachedPages asks the kernel to drop the page cache of the file at
// path (posix_fadvise POSIX_FADV_DONTNEED; pages a running process maps
// stay), so that the next process mapping it reads it from disk.
//
// The bench does so for the imagegate binary before its first server
// starts: a server maps whole page-cache folios of its binary, and right
// after `go build` the cache holds the linker's folios (2 MiB ones,
// PMD-mapped) where a binary read from disk — installed, unpacked from
// an image, after a reboot — is read around its faults in small folios.
// The same idle server is then 140 MiB of mapped binary instead of 89
// (docs/performance.md, "Round 5: resident memory"), a difference of how
// the file got into the cache, not of the server. The first server reads
// it in; the later ones map what it read.
func dropCachedPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dropping the cached pages of %s: %w", path, err)
	}
	defer f.Close()
	const posixFadvDontneed = 4
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, posixFadvDontneed, 0, 0); e != 0 {
		return fmt.Errorf("dropping the cached pages of %s: %w", path, e)
	}
	return nil
}
