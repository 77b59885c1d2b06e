package main

import (
	"crypto/sha256"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Limits are the machine's ceilings for one stream, in MB/s.
type Limits struct {
	SHA256, Disk, Loopback float64
}

// measureLimits hashes, writes (then fsyncs) and sends over loopback n
// bytes, each from a 1 MiB buffer, in dir (the servers' disk).
func measureLimits(dir string, n int64) (Limits, error) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	var l Limits
	t := time.Now()
	h := sha256.New()
	for left := n; left > 0; left -= int64(len(buf)) {
		h.Write(buf)
	}
	h.Sum(nil)
	l.SHA256 = mbps(n, time.Since(t))

	path := filepath.Join(dir, "limits.bin")
	f, err := os.Create(path)
	if err != nil {
		return l, err
	}
	defer os.Remove(path)
	t = time.Now()
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return l, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return l, err
	}
	l.Disk = mbps(n, time.Since(t))
	if err := f.Close(); err != nil {
		return l, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return l, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return l, err
	}
	t = time.Now()
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return l, err
		}
	}
	c.Close()
	err = <-done
	l.Loopback = mbps(n, time.Since(t))
	return l, err
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }
