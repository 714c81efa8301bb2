package hub

import (
	"errors"
	"fmt"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
)

func openEmbedded(cfg *config.Config) (store.Store, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = DefaultDataDir()
	}
	st, err := embedded.Open(embedded.Options{
		Dir:       dir,
		MaxEvents: int(cfg.Retention.MaxEvents),
		MaxAge:    cfg.Retention.MaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	return st, nil
}

func openRedis(cfg *config.Config) (store.Store, error) {
	return nil, errors.New("redis store: not built yet (hub/store/redis pending)")
}
