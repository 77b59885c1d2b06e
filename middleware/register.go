package middleware

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	repositorymiddleware "github.com/distribution/distribution/v3/registry/middleware/repository"
)

const (
	registeredName = "imagegate-guard"
	optionGuard    = "guard"
)

func init() {
	if err := repositorymiddleware.Register(registeredName, initRepository); err != nil {
		panic(err)
	}
}

// initRepository wraps one request's repository. Distribution calls it
// per request, so the wrapper may carry that request's state.
func initRepository(_ context.Context, repo distribution.Repository, options map[string]any) (distribution.Repository, error) {
	g, ok := options[optionGuard].(*Guard)
	if !ok || g == nil {
		return nil, fmt.Errorf("middleware %s: option %q must hold a *Guard (install it with Guard.Middleware)", registeredName, optionGuard)
	}
	return &repository{Repository: repo, guard: g}, nil
}
