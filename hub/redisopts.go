package hub

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/saker-sec/saker/hub/config"
)

// redisTLS builds the client TLS configuration for REDIS_TLS (nil when off):
// REDIS_CACERTFILE adds a private CA, REDIS_CHECKCERT=false skips
// verification (self-signed test setups).
func redisTLS(c config.Redis) (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
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
	return tc, nil
}

// RedisTLS is redisTLS for the hub process's other Redis clients (the
// dashboard's sessions), so they connect as the store does.
func RedisTLS(c config.Redis) (*tls.Config, error) { return redisTLS(c) }
