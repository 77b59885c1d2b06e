// Package registry composes an imagegate server: distribution's registry
// app plus imagegate's own routes (health, readiness, metrics) behind one
// http.Server, and its lifecycle from start to graceful shutdown.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/prometheus/client_golang/prometheus"

	// The storage drivers the configuration can name.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	_ "github.com/imagegate/imagegate/storagedriver/s3"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/internal/certreload"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/recorder"
	"github.com/imagegate/imagegate/middleware"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/pulls"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/quota"
	"github.com/imagegate/imagegate/retention"
	"github.com/imagegate/imagegate/scan/detach"
	"github.com/imagegate/imagegate/security"
	"github.com/imagegate/imagegate/shim"
)

// Server is one imagegate registry: New builds it, Start binds its
// listeners, Shutdown drains them. Run does all three around a context.
type Server struct {
	// certs serves http.tls's pair, reloaded when its files change; nil
	// without TLS.
	certs   *certreload.Reloader
	cfg     *config.Config
	logger  *slog.Logger
	app     *handlers.App
	store   metadata.Store
	rec     *recorder.Recorder
	events  *notify.Notifier
	auth    *auth.Service // nil when auth is off
	robots  *auth.Robots  // nil when auth is off
	rescans api.Rescanner // nil without a scanner
	layers  api.LayerReporter
	// quotas are the namespace quotas (nil: none): the API reads usage;
	// reconcileQuotas charges stored manifests not charged yet.
	quotas    *quota.Quotas
	retention *retention.Service
	// pulls is this replica's pull tracker (registry/pulls.go); nil when
	// lifecycle.pulls is off.
	pulls *pulls.Tracker
	// pullRecords reads the fleet's pull records; nil when not tracked.
	pullRecords *pulls.Reader
	// retentionRuns counts the scheduled retention runs (registry/retentionschedule.go).
	retentionRuns   *retentionMetrics
	gc              *gc.Collector // online garbage collection (registry/gc.go)
	reconcileQuotas func(context.Context) error
	catalog         api.Catalog // repositories and tags, for the API
	configs         api.ConfigReader
	policies        api.PolicyReader // nil without scan policies
	referrers       api.ReferrerLister
	uploads         *shim.Handler   // tarball uploads (registry/upload.go)
	sessions        *uploadSessions // blob upload sessions per identity (limits.uploadsessions)
	ready           *readiness
	status          statusSource // GET /api/v1/status
	metrics         *httpMetrics
	gate            *gateMetrics // registry/metrics_gate.go
	monitor         *security.Monitor
	emf             *emfEmitter // nil unless log.emf.enabled (registry/emf.go)
	handler         http.Handler
	oci             oci.Options // OCI 1.1 completions in front of distribution
	sweeper         *push.Sweeper
	driver          storagedriver.StorageDriver
	// detached is the gate's scanner under scan.pool.detachafter, whose
	// background scans shutdown waits for (registry/detach.go); nil: off.
	detached *detach.Scanner
	// fleet is the state shared with the other replicas (registry/fleet.go);
	// singletons run the work one replica does at a time over it.
	fleet fleet.Store
	// fleetCloser closes the fleet store this server opened (the pool of
	// fleet/sqlstore); nil when it has nothing to release or was given one.
	fleetCloser io.Closer
	singletons  singletons
	// stopBackground ends the background loops (sweeper, upload purging);
	// background is done when they have.
	stopBackground context.CancelFunc
	background     sync.WaitGroup

	public  *http.Server
	debug   *http.Server
	addr    net.Addr
	debugAd net.Addr
	failed  chan error // a listener's Serve returned unexpectedly

	// onConnState, when set before Start, observes the public listener's
	// connection states (tests use it to know a request is in flight).
	onConnState func(net.Conn, http.ConnState)
}

// distributionMetricsClaimed guards distribution's HTTP metrics, which
// register on the process-wide Prometheus registry and would panic if a
// second App in the same process (tests) registered them again.
var distributionMetricsClaimed atomic.Bool

// New builds a server for cfg, which must have passed Validate. It creates
// the storage backend but binds no port.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	policies, err := newPolicies(cfg.Scan)
	if err != nil {
		return nil, err
	}
	immutable, err := lifecycle.NewImmutability(cfg.Lifecycle.ImmutableRules())
	if err != nil {
		return nil, err
	}
	retentionRules, err := lifecycle.NewRetention(cfg.Lifecycle.RetentionRules())
	if err != nil {
		return nil, err
	}
	if o.scanner == nil && ScanningConfigured(cfg.Scan) {
		logger.Warn("scan policies are configured but no scanner was given: scans count as failed (see onerror)")
	}
	foldDistributionLogs(logger)
	shared, multi := o.fleet, o.fleet != nil
	if shared == nil {
		if shared, err = openFleet(ctx, cfg); err != nil {
			return nil, err
		}
		multi = !singleNode(shared)
	}
	replica := replicaID()
	logger.Info("replica", "id", replica, "shared_state", multi)
	single := singletons{store: shared, replica: replica, logger: logger.With("component", "singleton")}
	if err := single.runStartTasks(ctx, o.startTasks); err != nil {
		return nil, err
	}

	secret := cfg.HTTP.Secret.Reveal()
	if secret == "" {
		secret = randomSecret()
		logger.Warn("http.secret is not set; generated one for this process — set it when running more than one replica")
	}
	dcfg := cfg.Distribution(secret)
	withoutUploadPurging(dcfg)
	if cfg.Debug.Metrics && distributionMetricsClaimed.CompareAndSwap(false, true) {
		dcfg.HTTP.Debug.Prometheus.Enabled = true
	}

	driver, err := newStorageDriver(ctx, cfg)
	if err == nil {
		driver, err = wrapStorageDriver(ctx, driver, o.storageMiddleware)
	}
	if err != nil {
		return nil, err
	}
	store, rec, err := openMetadata(ctx, cfg, driver, shared, replica, logger)
	if err != nil {
		return nil, err
	}
	diffIDs := newDiffIDs(cfg.Validation, driver)
	if !cfg.Validation.VerifyDiffIDs {
		logger.Warn("validation.verifydiffids is off: image configs' diff_ids are not checked, and a pusher can poison the scanner's layer cache")
	}
	validator, err := newValidator(cfg.Validation, diffIDs)
	var analyses push.Analysis
	if err == nil {
		analyses, err = newAnalysis(cfg.Analysis, diffIDs, driver)
	}
	if err != nil {
		rec.Close()
		store.Close()
		return nil, err
	}
	metrics := newHTTPMetrics(cfg.Debug.Metrics || cfg.Log.EMF.Enabled)
	gate, err := newGateMetrics(cfg, metrics.registry)
	var certs *certreload.Reloader
	if err == nil {
		certs, err = newCertReloader(cfg.HTTP.TLS, metrics.registry, logger.With("component", "tls"), o.certNow)
	}
	if err == nil {
		err = registerAnalysisMetrics(metrics.registry, analyses.Analyzer)
	}
	var detached *detach.Scanner
	if err == nil {
		// One pusher cannot fill the queue. Inside scan/detach: a detached
		// scan keeps its place in its pusher's line until it ends.
		o.scanner = newFairScanner(o.scanner, cfg.Scan.MaxPerIdentity, cfg.Scan.Timeout)
		o.scanner, detached, err = detachedScanner(o.scanner, cfg.Scan, sharedOrNil(shared, multi), driver, replica, logger)
	}
	if err == nil {
		o.scanner, err = meteredScanner(o.scanner, cfg, metrics.registry)
	}
	if err == nil {
		err = registerPoolMetrics(metrics.registry, store, shared)
	}
	if err != nil {
		rec.Close()
		store.Close()
		return nil, err
	}
	events, err := openNotifier(cfg, sharedOrNil(shared, multi), replica, metrics.registry, logger)
	if err != nil {
		rec.Close()
		store.Close()
		return nil, err
	}
	monitor, err := openMonitor(cfg, shared, events, metrics.registry, logger)
	if err != nil {
		events.Close()
		rec.Close()
		store.Close()
		return nil, err
	}
	// closeOpened closes what New opened so far, on the error paths below.
	closeOpened := func() {
		monitor.Close()
		events.Close()
		rec.Close()
		store.Close()
	}
	locks := push.NewFleetLocks(shared, push.FleetLocksOptions{Replica: replica, Logger: logger.With("component", "locks")})
	ns, err := openNamespace(ctx, cfg, driver)
	var quotas *quota.Quotas
	if err == nil {
		quotas, err = newQuotas(cfg.Lifecycle, shared, locks, events, logger.With("component", "quota"))
	}
	if err != nil {
		closeOpened()
		return nil, err
	}
	referrers := oci.NewReferrers(driver)
	gcFence, err := newGCFence(cfg, shared, driver, metrics.registry, o)
	if err != nil {
		closeOpened()
		return nil, err
	}
	pipeline := push.New(push.Options{
		Namespace: ns, Referrers: referrers, Aliases: oci.NewAliases(driver),
		Recorder: rec, Records: store, Validator: validator, Locks: locks,
		Scanning: push.Scanning{Scanner: o.scanner, Policies: policies, Timeout: cfg.Scan.Timeout},
		Analysis: analyses,
		Locator:  locator(cfg), Logger: logger.With("component", "push"), Events: events,
		Metrics:           gate.push,
		Watcher:           pushWatcher(monitor),
		Immutable:         immutable,
		Quotas:            quotas,
		GC:                gcFence,
		TagsPerRepository: cfg.Limits.TagsPerRepository,
		Retries:           sharedOrNil(shared, multi),
		BlobReader:        blobReader(driver),
	})
	guard := middleware.New(middleware.Options{Recorder: rec, Locator: locator(cfg), Events: events, Locks: locks,
		Logger: logger.With("component", "guard"), Immutable: immutable, Quotas: quotas, GC: gcFence, Namespace: ns})
	collector, err := newCollector(cfg.Lifecycle, gcFence, shared, ns, driver, guard, replica, o.gcNow, logger.With("component", "gc"))
	if err != nil {
		closeOpened()
		return nil, err
	}
	if o.gcHooks != nil {
		o.gcHooks(collector, gcFence.Fence)
	}
	ingester := newIngester(cfg, driver, uploadLearner(cfg.Validation, diffIDs, uploadTap(analyses)), logger)
	if ingester != nil {
		if err := registerSendfileMetrics(metrics.registry, ingester); err != nil {
			closeOpened()
			return nil, err
		}
	}
	dcfg.Middleware = map[string][]configuration.Middleware{"repository": append(ingestMiddleware(ingester),
		middleware.ReferrersMiddleware(referrers), guard.Middleware())}
	if len(o.storageMiddleware) > 0 {
		dcfg.Middleware["storage"] = o.storageMiddleware
	}
	pullStore := pullsStore(shared, multi)
	pullRecords := pullReader(cfg.Lifecycle.Pulls, pullStore, o.pullNow)
	retain := newRetention(cfg.Lifecycle, retentionRules, ns, driver, guard, immutable, o.retentionNow, pullRecords, logger.With("component", "retention"))
	pullTracker, err := newPulls(cfg.Lifecycle.Pulls, pullStore, o.pullNow, metrics.registry, logger.With("component", "pulls"))
	var retentionRuns *retentionMetrics
	if err == nil {
		retentionRuns, err = newRetentionMetrics(metrics.registry)
	}
	if err != nil {
		closeOpened()
		return nil, err
	}
	var authSvc *auth.Service
	var robots *auth.Robots
	var ociOpts oci.Options
	if cfg.Auth.Enabled {
		robots = auth.NewRobots(driver)
		if authSvc, err = newAuth(ctx, cfg.Auth, cfg.HTTP.Host, robots, sharedOrNil(shared, multi), metrics.registry, logger.With("component", "auth")); err != nil {
			closeOpened()
			return nil, err
		}
		dcfg.Auth = authSvc.DistributionAuth()
		watchAuth(authSvc, monitor)
	}
	app, err := newApp(ctx, dcfg)
	if err == nil {
		ociOpts = ociOptions(driver, ns, pipeline, guard, authSvc, logger.With("component", "oci"))
	}
	if err != nil {
		closeOpened()
		return nil, err
	}

	s := &Server{
		certs:    certs,
		cfg:      cfg,
		logger:   logger,
		app:      app,
		store:    store,
		rec:      rec,
		events:   events,
		monitor:  monitor,
		auth:     authSvc,
		robots:   robots,
		ready:    newReadiness(5*time.Second, logger.With("component", "readiness")),
		metrics:  metrics,
		gate:     gate,
		failed:   make(chan error, 2),
		sessions: newUploadSessions(cfg.Limits.UploadSessions, cancelUpload(ns), logger.With("component", "uploads")),
		oci:      ociOpts,
		detached: detached,
		sweeper: push.NewSweeper(push.SweeperOptions{Store: store, Namespace: ns, Events: events, Grace: cfg.Metadata.Sweep.Grace,
			Logger: logger.With("component", "sweeper")}),
		driver:        driver,
		fleet:         shared,
		fleetCloser:   ownCloser(shared, o.fleet == nil),
		singletons:    single,
		layers:        pipeline,
		catalog:       catalogSource{ns: ns, pulls: pullRecords},
		pulls:         pullTracker,
		pullRecords:   pullRecords,
		retentionRuns: retentionRuns,
		configs:       pipeline,
		quotas:        quotas,
		referrers:     referrers,
		retention:     retain,
		gc:            collector,
	}
	if policies != nil {
		s.policies = policies
	}
	if quotas != nil {
		s.reconcileQuotas = reconcileQuotas(quotas, ns, logger.With("component", "quota"))
	}
	s.emf = newEMFEmitter(cfg.Log.EMF, prometheus.Gatherers{metrics.registry, prometheus.DefaultGatherer}, o.emfOut, replica, logger.With("component", "emf"))
	s.ready.add("storage", storageCheck(driver))
	s.ready.add("metadata", rec.Check)
	if s.uploads, err = newUploads(cfg, ns, driver, ingester, diffIDs, uploadTap(analyses), pipeline, authSvc, events, shared, logger); err != nil {
		return nil, err
	}
	if len(cfg.Notifications.Endpoints) > 0 {
		s.ready.add("notifications", events.Check)
	}
	s.status = statusSource{cfg: cfg, scanner: o.scanner, ready: s.ready, events: events}
	if o.scanner != nil {
		s.ready.add("scanner", scannerCheck(o.scanner, cfg.Scan.MaxDBAge))
		s.ready.addInfo("scanner", scannerInfo(o.scanner, cfg.Scan.MaxDBAge))
		s.rescans = pipeline.Rescanner()
	}
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// newApp creates distribution's App, turning its panics on bad
// configuration into errors.
func newApp(ctx context.Context, dcfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("registry: configuring distribution: %v", p)
		}
	}()
	return handlers.NewApp(ctx, dcfg), nil
}

// Reload applies what can change without a restart — today the auth
// policy and users — from cfg. In-flight requests finish under the old
// rules; connections stay open.
func (s *Server) Reload(cfg *config.Config) error {
	if s.auth == nil || !cfg.Auth.Enabled {
		return nil
	}
	policy, authn, err := authPolicy(context.Background(), cfg.Auth, s.robots, s.logger.With("component", "auth"))
	if err != nil {
		return err
	}
	s.auth.Reload(policy, authn)
	s.logger.Info("configuration reloaded", "bindings", len(cfg.Auth.Bindings))
	return nil
}

// Records is the server's metadata store, for reading records.
func (s *Server) Records() metadata.Store { return s.store }

// AddReadinessCheck makes /readyz depend on check, reported under name.
func (s *Server) AddReadinessCheck(name string, check Check) { s.ready.add(name, check) }

// Handler returns the server's complete HTTP handler, for tests and for
// embedding behind another listener.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serveLiveness)
	mux.Handle("GET /readyz", s.ready)
	var v2 http.Handler = refuseInvalidNames(limitManifestBodies(oci.NewHandler(explainBadRoute(s.app), s.oci), s.cfg.Limits.ManifestBytes))
	v2 = pageTagLists(v2)           // no unbounded tag list without n
	v2 = s.sessions.wrap(v2)        // open blob upload sessions bounded per identity
	v2 = pulls.Observe(v2, s.pulls) // manifest GETs answered 200: a map update, no I/O
	if s.auth != nil {
		v2 = filterCatalog(v2, s.auth.CatalogFilter)
		v2 = s.auth.ExplainDenials(v2) // 403 DENIED when no token would grant the access
	}
	mux.Handle("/v2/", v2)
	opts := api.Options{Rescans: s.rescans, Layers: s.layers, Catalog: s.catalog, Configs: s.configs,
		Policies: s.policies, Referrers: s.referrers, Retention: s.retention, Status: s.status, GC: s.gc}
	if s.quotas != nil {
		opts.Quotas = s.quotas
	}
	if s.pullRecords != nil {
		opts.Pulls = s.pullRecords
	}
	if s.auth != nil {
		opts.Auth, opts.Robots = apiAuth{s.auth}, s.robots
		mux.Handle(auth.TokenPath, s.auth)
	}
	registerUploads(mux, s.uploads, s.gate.uploads)
	apiHandler := api.New(s.store, opts, s.logger.With("component", "api"))
	mux.Handle(api.Prefix, apiHandler)
	if err := s.mountUI(mux, apiHandler); err != nil {
		return nil, err
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errcodes.Serve(w, errcodes.NotFound.WithDetail(map[string]string{"path": r.URL.Path}))
	})
	handler := limitBodyIdle(rejectUncleanPaths(mux), s.cfg.HTTP.BodyIdleTimeout)
	return observe(noSniff(recoverPanics(handler, s.logger)), s.logger, s.metrics, s.cfg.Log.AccessLog), nil
}

// randomSecret returns 32 random bytes, base64-encoded.
func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
