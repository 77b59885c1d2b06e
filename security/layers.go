package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/notify"
)

// layerShards is how many items of the fleet store the refused layers are
// spread over (by the first two hex digits of their digest): each holds
// at most vulnerablelayers.maxlayers / layerShards of them.
const layerShards = 256

// maxLayersPerEvent bounds the layers one event reads or writes.
const maxLayersPerEvent = 256

// refusedLayer is one layer digest an enforce policy refused, where and
// when.
type refusedLayer struct {
	Digest     string    `json:"d"`
	Repository string    `json:"r"`
	At         time.Time `json:"t"`
}

// shardKey is the fleet key of the shard holding layer d.
func shardKey(d string) string {
	_, enc, _ := strings.Cut(d, ":")
	if len(enc) < 2 {
		enc = "__"
	}
	return "layers:" + strings.ToLower(enc[:2])
}

// byShard groups digests by shard key, at most maxLayersPerEvent of them.
func byShard(ds []digest.Digest) map[string][]string {
	out := map[string][]string{}
	for i, d := range ds {
		if i == maxLayersPerEvent {
			break
		}
		k := shardKey(string(d))
		if !slices.Contains(out[k], string(d)) {
			out[k] = append(out[k], string(d))
		}
	}
	return out
}

// VulnerableLayers remembers layers an enforce policy refused rec for, for
// vulnerable_layer_pushed: each for vulnerablelayers.remember, at most
// vulnerablelayers.maxlayers of them (the oldest are forgotten first).
func (m *Monitor) VulnerableLayers(ctx context.Context, rec metadata.Record, layers []digest.Digest) {
	if m == nil || !m.cfg.VulnerableLayers.Enabled || len(layers) == 0 {
		return
	}
	vl := m.cfg.VulnerableLayers
	per := max(vl.MaxLayers/layerShards, 1)
	m.enqueue(ctx, func(ctx context.Context) error {
		var errs []error
		for key, ds := range byShard(layers) {
			_, err := fleet.Update(ctx, m.store, Space, key, vl.Remember, func(cur []byte, exists bool) ([]byte, error) {
				held := m.liveLayers(cur, exists)
				now := m.now()
				held = slices.DeleteFunc(held, func(l refusedLayer) bool { return slices.Contains(ds, l.Digest) })
				for _, d := range ds {
					held = append(held, refusedLayer{Digest: d, Repository: rec.Repository, At: now})
				}
				if over := len(held) - per; over > 0 {
					held = slices.Delete(held, 0, over)
				}
				return json.Marshal(held)
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("security: remembering refused layers: %w", err))
			}
		}
		return errors.Join(errs...)
	})
}

// liveLayers decodes a shard and drops what is older than remember.
func (m *Monitor) liveLayers(cur []byte, exists bool) []refusedLayer {
	var held []refusedLayer
	if !exists || json.Unmarshal(cur, &held) != nil {
		return nil
	}
	now := m.now()
	return slices.DeleteFunc(held, func(l refusedLayer) bool { return now.Sub(l.At) >= m.cfg.VulnerableLayers.Remember })
}

// checkLayers raises vulnerable_layer_pushed when rec carries layers
// refused in another repository, once per target repository and cooldown.
func (m *Monitor) checkLayers(ctx context.Context, rec metadata.Record) error {
	ds := make([]digest.Digest, len(rec.Layers))
	for i, l := range rec.Layers {
		ds[i] = l.Digest
	}
	var found []refusedLayer
	for key, want := range byShard(ds) {
		it, err := m.store.Get(ctx, Space, key)
		if errors.Is(err, fleet.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("security: reading refused layers: %w", err)
		}
		for _, l := range m.liveLayers(it.Value, true) {
			if slices.Contains(want, l.Digest) && l.Repository != rec.Repository {
				found = append(found, l)
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	vl := m.cfg.VulnerableLayers
	ok, err := m.cooldown(ctx, VulnerableLayer, rec.Repository, vl.Cooldown)
	if !ok {
		return err
	}
	slices.SortFunc(found, func(a, b refusedLayer) int { return a.At.Compare(b.At) })
	layers := make([]string, len(found))
	for i, l := range found {
		layers[i] = l.Digest
	}
	m.raise(ctx, incident{detector: VulnerableLayer, subject: rec.Repository + "@" + rec.Digest.String(),
		repository: rec.Repository, user: &notify.User{Subject: rec.User.Subject, Method: rec.User.Method},
		reason: fmt.Sprintf("push to %s (%s) carries %d layer(s) refused as vulnerable in %s",
			rec.Repository, rec.Status, len(found), found[0].Repository),
		sec: notify.Security{ClientIP: rec.ClientIP, Count: len(found), Since: found[0].At.UTC(), Layers: layers,
			RefusedIn: found[0].Repository, CooldownSeconds: int64(vl.Cooldown / time.Second)}})
	return nil
}
