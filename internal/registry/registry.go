package registry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/distribution/v3/registry/handlers"
	registrymiddleware "github.com/distribution/distribution/v3/registry/middleware/registry"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // the storage driver
	"github.com/sirupsen/logrus"

	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
	"github.com/berth-dev/berth/internal/store"
)

// Config configures the registry.
type Config struct {
	Store     *store.Store
	AccountID string
	Region    string
	// RootDir is the root of the filesystem storage (<data-dir>/registry).
	RootDir string
	// Host is the registry's host:port as Docker reaches it (the edge
	// listener, e.g. 127.0.0.1:4566): repository URIs and the token's proxy
	// endpoint name it.
	Host string
	// AutoCreateRepositories lets a push create a missing repository
	// (development); otherwise it is refused as ECR refuses it.
	AutoCreateRepositories bool
	// TokenTTL is how long an authorization token is valid (default 12 h,
	// as on ECR).
	TokenTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultTokenTTL is the validity of an authorization token, as on ECR.
const DefaultTokenTTL = 12 * time.Hour

// Registry implements ecrapi.Handler and serves /v2/.
type Registry struct {
	ecrapi.Unimplemented
	cfg   Config
	st    *store.Store
	cache *store.Cache
	log   *slog.Logger
	// secret signs authorization tokens and download URLs; it is kept in
	// etcd so every server of a cluster accepts every server's tokens.
	secret []byte

	app    *handlers.App
	ns     distribution.Namespace // Distribution's storage, set by the middleware
	driver storagedriver.StorageDriver
	http   http.Handler

	// gcMu: writes (pushes, deletes) hold it shared, a garbage collection
	// exclusively, so a blob cannot be swept between its upload and the
	// manifest that references it within this process.
	gcMu sync.RWMutex

	previewMu sync.Mutex
	previews  map[string]string // repository -> policy text of the last preview

	stopOnce sync.Once
	bgCtx    context.Context // cancelled by Close
	stop     context.CancelFunc
	bg       sync.WaitGroup
}

var _ ecrapi.Handler = (*Registry)(nil)

// registerOnce installs Berth's hooks into Distribution's global registries
// of named extensions; the options of each instance carry its *Registry.
var registerOnce sync.Once

const extName = "berth"

func registerExtensions() {
	registerOnce.Do(func() {
		_ = registrymiddleware.Register(extName, func(_ context.Context, ns distribution.Namespace, d storagedriver.StorageDriver, opts map[string]any) (distribution.Namespace, error) {
			r, ok := opts["registry"].(*Registry)
			if !ok {
				return nil, errors.New("berth registry middleware: no registry in options")
			}
			r.ns, r.driver = ns, d
			return &namespace{Namespace: ns, r: r}, nil
		})
		_ = auth.Register(extName, func(opts map[string]any) (auth.AccessController, error) {
			r, ok := opts["registry"].(*Registry)
			if !ok {
				return nil, errors.New("berth access controller: no registry in options")
			}
			return accessController{r: r}, nil
		})
		// Distribution logs through logrus' standard logger: keep it quiet
		// and send what it says to the debug log.
		logrus.SetLevel(logrus.WarnLevel)
		logrus.SetOutput(io.Discard)
	})
}

// New opens the registry's storage under cfg.RootDir and starts its cache.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.RootDir == "" {
		return nil, errors.New("registry: RootDir is required")
	}
	registerExtensions()
	r := &Registry{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "registry")}
	c, err := cfg.Store.Cache(ctx, store.Prefix(cfg.AccountID, cfg.Region, "ecr"))
	if err != nil {
		return nil, fmt.Errorf("starting the ECR cache: %w", err)
	}
	r.cache = c
	if r.secret, err = r.loadSecret(ctx); err != nil {
		return nil, err
	}
	conf := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": cfg.RootDir},
			"delete":     configuration.Parameters{"enabled": true},
			// No blob descriptor cache: the garbage collection removes blobs
			// online, and a cached descriptor would outlive its blob.
			"redirect": configuration.Parameters{"disable": true},
		},
		Auth: configuration.Auth{extName: configuration.Parameters{"registry": r}},
		Middleware: map[string][]configuration.Middleware{
			"registry": {{Name: extName, Options: configuration.Parameters{"registry": r}}},
		},
	}
	// Upload state is signed with the HTTP secret: the same on every server.
	conf.HTTP.Secret = hex.EncodeToString(r.mac("http-secret"))
	bg, cancel := context.WithCancel(context.Background())
	r.bgCtx, r.stop = bg, cancel
	app, err := newApp(bg, conf)
	if err != nil {
		cancel()
		return nil, err
	}
	r.app = app
	if r.ns == nil {
		cancel()
		return nil, errors.New("registry: the storage middleware was not installed")
	}
	r.http = r.wrapHTTP(app)
	return r, nil
}

// newApp builds Distribution's application, which panics on configuration
// errors (an unusable root directory, say).
func newApp(ctx context.Context, conf *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("registry: starting the distribution registry: %v", p)
		}
	}()
	return handlers.NewApp(ctx, conf), nil
}

// Close stops the background loops and Distribution's upload purger.
func (r *Registry) Close() {
	r.stopOnce.Do(func() {
		r.stop()
		r.bg.Wait()
		_ = r.app.Shutdown()
	})
}

// Service is the ECR API description the edge registers.
func (r *Registry) Service() *awsapi.Service { return ecrapi.NewService(r) }

// Handler serves the Docker registry protocol; mount it on "/v2/".
func (r *Registry) Handler() http.Handler { return r.http }

// Host is the registry's host:port.
func (r *Registry) Host() string { return r.cfg.Host }

// Synced waits until the ECR cache has applied store revision rev.
func (r *Registry) Synced(ctx context.Context, rev int64) error { return r.synced(ctx, rev) }

func (r *Registry) synced(ctx context.Context, rev int64) error {
	if err := r.cache.WaitRevision(ctx, rev); err != nil {
		return fmt.Errorf("waiting for the ECR cache to apply revision %d: %w", rev, err)
	}
	return nil
}

// key builds a store key under this account and region's ECR prefix.
func (r *Registry) key(parts ...string) string {
	return store.Key(append([]string{r.cfg.AccountID, r.cfg.Region, "ecr"}, parts...)...)
}

func (r *Registry) prefix(parts ...string) string {
	return store.Prefix(append([]string{r.cfg.AccountID, r.cfg.Region, "ecr"}, parts...)...)
}

func (r *Registry) now() time.Time { return r.cfg.Now().UTC().Truncate(time.Millisecond) }

// loadSecret reads the signing secret, creating it on the first start.
func (r *Registry) loadSecret(ctx context.Context) ([]byte, error) {
	key := store.Key(r.cfg.AccountID, r.cfg.Region, "ecr-secret")
	for range 3 {
		kv, err := r.st.Get(ctx, key)
		if err == nil {
			return kv.Value, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("reading the registry secret: %w", err)
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if _, err := r.st.Put(ctx, key, b, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("creating the registry secret: %w", err)
		}
	}
	return nil, errors.New("registry: could not create the signing secret")
}

// mac is HMAC-SHA256 of the parts with the registry secret.
func (r *Registry) mac(parts ...string) []byte {
	h := hmac.New(sha256.New, r.secret)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
