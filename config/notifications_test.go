package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestNotificationsRejects(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"no name", "notifications:\n  endpoints:\n    - url: https://h.example/x\n", []string{"notifications.endpoints[0].name: must be set"}},
		{"bad url", "notifications:\n  endpoints:\n    - {name: a, url: h.example/x}\n", []string{"notifications.endpoints[0].url: must be an absolute http or https URL"}},
		{"duplicate", "notifications:\n  endpoints:\n    - {name: a, url: http://h/x}\n    - {name: a, url: http://h/y}\n", []string{`notifications.endpoints[1].name: "a" is used by another endpoint`}},
		{"short secret", "notifications:\n  endpoints:\n    - {name: a, url: http://h/x, secret: short}\n", []string{"notifications.endpoints[0].secret: must be at least 16 characters"}},
		{"bad event", "notifications:\n  endpoints:\n    - {name: a, url: http://h/x, events: [push]}\n", []string{`notifications.endpoints[0].events: must be among push.accepted`, `got "push"`}},
		{"bad pattern", "notifications:\n  endpoints:\n    - {name: a, url: http://h/x, repositories: [\"a//b\"]}\n", []string{"notifications.endpoints[0].repositories"}},
		{"unknown endpoint key", "notifications:\n  endpoints:\n    - {name: a, url: http://h/x, secrte: x}\n", []string{`unknown key "notifications.endpoints[0].secrte"`}},
		{"bad backoff", "notifications:\n  backoff:\n    initial: 1m\n    max: 1s\n", []string{"notifications.backoff: needs a positive initial"}},
		{"zero attempts", "notifications:\n  maxattempts: 0\n", []string{"notifications.maxattempts: must be at least 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNotificationSecretNeverPrints(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("notifications:\n  endpoints:\n    - {name: a, url: http://h/x, secret: a-very-secret-value, events: [push.accepted], repositories: [\"prod/**\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ep := cfg.Notifications.Endpoints[0]
	if s := fmt.Sprintf("%v %+v", ep, cfg.Notifications); strings.Contains(s, "a-very-secret-value") {
		t.Fatalf("secret printed: %s", s)
	}
	if ep.Secret.Reveal() != "a-very-secret-value" {
		t.Fatal("secret not loaded")
	}
}
