package middleware

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	repositorymiddleware "github.com/distribution/distribution/v3/registry/middleware/repository"
)

const (
	registeredName = "imagegate-gate"
	optionGate     = "gate"
)

func init() {
	if err := repositorymiddleware.Register(registeredName, initRepository); err != nil {
		panic(err)
	}
}

// initRepository wraps one request's repository. Distribution calls it
// per request, so the wrapper may carry that request's state.
func initRepository(_ context.Context, repo distribution.Repository, options map[string]any) (distribution.Repository, error) {
	g, ok := options[optionGate].(*Gate)
	if !ok || g == nil {
		return nil, fmt.Errorf("middleware %s: option %q must hold a *Gate (install it with Gate.Middleware)", registeredName, optionGate)
	}
	return &repository{Repository: repo, gate: g}, nil
}
