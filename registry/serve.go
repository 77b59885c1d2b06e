package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/imagegate/imagegate/internal/logs"
)

// Start binds the public listener (and the debug listener when configured)
// and serves in the background. Addr reports the bound address.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("registry: listening on http.addr %s: %w", s.cfg.HTTP.Addr, err)
	}
	s.addr = ln.Addr()
	s.public = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig(s.certs),
		ConnState:         s.onConnState,
	}
	s.startBackground()
	tlsOn := s.cfg.HTTP.TLS.Certificate != ""
	go func() {
		var err error
		if tlsOn {
			err = s.public.ServeTLS(ln, "", "") // the pair comes from s.certs
		} else {
			err = s.public.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("registry: serving %s: %w", s.addr, err)
		}
	}()
	s.logger.Info("registry listening", "addr", s.addr.String(), "tls", tlsOn,
		"storage", s.cfg.Storage.Driver)

	if s.cfg.Debug.Addr == "" {
		return nil
	}
	dln, err := net.Listen("tcp", s.cfg.Debug.Addr)
	if err != nil {
		_ = s.public.Close()
		return fmt.Errorf("registry: listening on debug.addr %s: %w", s.cfg.Debug.Addr, err)
	}
	s.debugAd = dln.Addr()
	dmux := http.NewServeMux()
	dmux.Handle("GET /readyz", s.ready.detailed()) // with error texts: operators only
	if s.cfg.Debug.Metrics {
		dmux.Handle("GET /metrics", s.metrics.handler())
	}
	if s.cfg.Debug.PProf {
		handlePProf(dmux)
	}
	s.debug = &http.Server{Handler: dmux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.debug.Serve(dln); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("registry: serving debug %s: %w", s.debugAd, err)
		}
	}()
	s.logger.Info("debug listening", "addr", s.debugAd.String(), "metrics", s.cfg.Debug.Metrics)
	return nil
}

// Addr is the public listener's address once Start has returned.
func (s *Server) Addr() net.Addr { return s.addr }

// DebugAddr is the debug listener's address, nil when it is disabled.
func (s *Server) DebugAddr() net.Addr { return s.debugAd }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends; then it closes what is left. It returns ctx's error when
// requests had to be cut off.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.public != nil {
		if err := s.public.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("registry: draining: %w", err))
			_ = s.public.Close()
		}
	}
	if s.debug != nil {
		if err := s.debug.Shutdown(ctx); err != nil {
			_ = s.debug.Close()
		}
	}
	s.stopBackgroundWork()
	if err := s.drainScans(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.app.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("registry: stopping app: %w", err))
	}
	s.monitor.Close() // its last alerts go to the notifier, closed next
	if err := s.events.Close(); err != nil {
		errs = append(errs, fmt.Errorf("registry: closing notification outbox: %w", err))
	}
	if err := s.rec.Close(); err != nil {
		errs = append(errs, fmt.Errorf("registry: closing metadata outbox: %w", err))
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("registry: closing metadata store: %w", err))
	}
	if s.fleetCloser != nil {
		if err := s.fleetCloser.Close(); err != nil {
			errs = append(errs, fmt.Errorf("registry: closing shared state store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Run starts the server and serves until ctx is done or a listener fails,
// then shuts down gracefully within http.shutdowntimeout.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.failed:
	}
	s.logger.Info("shutting down", logs.Ms("timeout_ms", s.cfg.HTTP.ShutdownTimeout))
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	err := errors.Join(serveErr, s.Shutdown(drain))
	s.logger.Info("stopped")
	return err
}
