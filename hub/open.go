package hub

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/sharded"
)

func openEmbedded(cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = DefaultDataDir()
	}
	fsync := embedded.FsyncInterval
	if cfg.Fsync.Policy == config.FsyncAlways {
		fsync = embedded.FsyncAlways
	}
	st, err := embedded.Open(embedded.Options{
		Dir:           dir,
		MaxEvents:     int(cfg.Retention.MaxEvents),
		MaxAge:        cfg.Retention.MaxAge,
		MaxBytes:      cfg.Retention.MaxBytes,
		Fsync:         fsync,
		FsyncInterval: cfg.Fsync.Interval,
		Logger:        logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	return st, nil
}

func openRedis(cfg *config.Config) (store.Store, error) {
	tc, err := redisTLS(cfg.Redis)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := redisstore.Options{
		Addresses:  cfg.Redis.Addresses,
		MasterName: cfg.Redis.MasterName,
		Username:   cfg.Redis.Username,
		Password:   cfg.Redis.Password,
		DB:         cfg.Redis.DB,
		TLS:        tc,
		MaxEvents:  cfg.Retention.MaxEvents,
		MaxAge:     cfg.Retention.MaxAge,
		KeyPrefix:  cfg.Redis.KeyPrefix,
	}
	var st store.Store
	if cfg.Redis.Shards > 1 {
		st, err = sharded.OpenRedis(ctx, opts, cfg.Redis.Shards)
	} else {
		st, err = redisstore.New(ctx, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open redis store at %s: %w", strings.Join(cfg.Redis.Addresses, ","), err)
	}
	return st, nil
}
