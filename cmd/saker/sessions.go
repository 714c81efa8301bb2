package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/web"
	"github.com/saker-sec/saker/web/loginlimit"
	"github.com/saker-sec/saker/web/session"
)

// openSessions picks where dashboard logins live, next to the alerts so
// every hub replica sees every logout: the hub's Redis when it has one,
// otherwise a file in the data directory. The failed-login counts go to
// the same Redis (every replica sees every guess); without Redis, limits
// is nil and the dashboard counts in this process (one hub per data
// directory). close releases them.
func openSessions(cfg *config.Config) (st session.Store, limits web.LoginLimiter, close func() error, err error) {
	if len(cfg.Redis.Addresses) > 0 {
		tc, err := hub.RedisTLS(cfg.Redis)
		if err != nil {
			return nil, nil, nil, err
		}
		c := redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: cfg.Redis.Addresses, MasterName: cfg.Redis.MasterName,
			Username: cfg.Redis.Username, Password: cfg.Redis.Password, DB: cfg.Redis.DB, TLSConfig: tc,
		})
		// The hash tag keeps a session's key on one cluster slot, apart
		// from the alert keys (and a client's login count on the slot of
		// the overall one).
		return session.NewRedis(c, cfg.Redis.KeyPrefix+"{saker-ui}:session:"),
			loginlimit.NewRedis(c, cfg.Redis.KeyPrefix+"{saker-ui}:login:", loginlimit.DefaultPolicy(), time.Now),
			c.Close, nil
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = hub.DefaultDataDir()
	}
	f, err := session.OpenFile(filepath.Join(dir, "ui-sessions.json"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dashboard sessions: %w", err)
	}
	return f, nil, func() error { return nil }, nil
}
