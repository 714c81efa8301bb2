package hub

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/config"
)

// RedisOptions turns the REDIS_* settings into go-redis universal options:
// one address is a single server, several are a Redis Cluster, and
// REDIS_MASTERNAME makes the addresses Sentinels.
func RedisOptions(c config.Redis) (*goredis.UniversalOptions, error) {
	o := &goredis.UniversalOptions{
		Addrs:      c.Addresses,
		MasterName: c.MasterName,
		Username:   c.Username,
		Password:   c.Password,
		DB:         c.DB,
	}
	if c.MasterName != "" {
		// Sentinels usually share the data nodes' credentials.
		o.SentinelUsername, o.SentinelPassword = c.Username, c.Password
	}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !c.CheckCert} //nolint:gosec // opt-in via REDIS_CHECKCERT=false
		if c.CACertFile != "" {
			pem, err := os.ReadFile(c.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("redis: read CA %s: %w", c.CACertFile, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis: no certificate in CA %s", c.CACertFile)
			}
			tc.RootCAs = pool
		}
		o.TLSConfig = tc
	}
	return o, nil
}
