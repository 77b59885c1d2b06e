package registry

import "context"

// startBackground runs, until Shutdown, the fleet's periodic jobs — the
// sweeper, quota reconciliation, scheduled retention, garbage collection
// and the upload purger, each on one replica at a time — and each
// replica's own loops: the EMF emitter and the pull-tracking flush.
func (s *Server) startBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	s.background.Go(func() {
		s.singletons.every(ctx, "push-sweeper", s.cfg.Metadata.Sweep.Interval, func(ctx context.Context) error {
			_, err := s.sweeper.Sweep(ctx)
			return err
		})
	})
	if s.emf != nil {
		s.background.Go(func() { s.emf.run(ctx) })
	}
	if every := s.cfg.Lifecycle.QuotaReconcile; s.reconcileQuotas != nil && every > 0 {
		s.background.Go(func() { s.singletons.every(ctx, "quota-reconcile", every, s.reconcileQuotas) })
	}
	if s.pulls != nil { // every replica flushes its own pulls
		s.background.Go(func() { s.pulls.Run(ctx, s.cfg.Lifecycle.Pulls.FlushInterval, nil) })
	}
	if every := s.cfg.Lifecycle.RetentionSchedule; every > 0 && s.retention.Enabled() {
		s.background.Go(func() { s.singletons.every(ctx, retentionLease, every, s.scheduledRetention) })
	}
	if every := s.cfg.Lifecycle.GC.Interval; every > 0 {
		s.background.Go(func() { s.singletons.every(ctx, "gc", every, collectGarbage(s.gc)) })
	}
	if p := s.cfg.Storage.UploadPurging; p.Enabled {
		s.background.Go(func() {
			s.singletons.every(ctx, "upload-purging", p.Interval, purgeUploads(s.driver, p, s.logger.With("component", "purge")))
		})
	}
}

// stopBackgroundWork ends the background loops and waits for them.
func (s *Server) stopBackgroundWork() {
	if s.stopBackground != nil {
		s.stopBackground()
		s.background.Wait()
	}
}
