package web

import (
	"crypto/tls"
	"fmt"

	"github.com/saker-sec/saker/hub/config"
)

// TLS is the dashboard port's own TLS, in the family of the ingestion
// port's TLSSERVER_* settings.
type TLS struct {
	Enabled  bool
	CertFile string
	KeyFile  string
}

// LoadTLS decodes UI_TLSSERVER_DEPLOY, UI_TLSSERVER_CERTFILE and
// UI_TLSSERVER_KEYFILE from the hub's configuration Source; the files
// default to the ingestion port's TLSSERVER_CERTFILE and TLSSERVER_KEYFILE
// when those are set.
func LoadTLS(src *config.Source) TLS {
	return TLS{
		Enabled:  src.Bool("UI_TLSSERVER_DEPLOY", false),
		CertFile: src.String(src.First("UI_TLSSERVER_CERTFILE", "TLSSERVER_CERTFILE"), ""),
		KeyFile:  src.String(src.First("UI_TLSSERVER_KEYFILE", "TLSSERVER_KEYFILE"), ""),
	}
}

// ServerConfig loads the certificate; nil, nil when TLS is off.
func (t TLS) ServerConfig() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, fmt.Errorf("dashboard TLS: UI_TLSSERVER_CERTFILE and UI_TLSSERVER_KEYFILE (or TLSSERVER_CERTFILE/KEYFILE) must be set")
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("dashboard TLS: load certificate %s: %w", t.CertFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
