package pgstatsreceiver

import (
	"errors"
	"fmt"
	"net"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
)

// Config of the pgstats receiver. The password comes from the Collector config's
// placeholders (${env:...} or ${file:...}), never from the repository.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`

	// Endpoint is host:port of the PostgreSQL server.
	Endpoint string `mapstructure:"endpoint"`
	// Username and Password of a role that may read pg_stat_* (pg_monitor, or the owner).
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
	// Databases whose tables and indexes are reported; the first one is also the database
	// the server-wide statistics are read from. Server-wide statistics cover every database.
	Databases []string `mapstructure:"databases"`
	// SSLMode as in libpq: disable, allow, prefer, require, verify-ca, verify-full.
	SSLMode string `mapstructure:"ssl_mode"`
}

var sslModes = map[string]bool{
	"disable": true, "allow": true, "prefer": true, "require": true, "verify-ca": true, "verify-full": true,
}

// Validate checks what can be checked without a server: a scrape against an absent server
// only logs (the receiver never fails the Collector's start for it).
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint %q: expected host:port: %w", c.Endpoint, err))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("username must be set"))
	}
	if len(c.Databases) == 0 {
		errs = append(errs, errors.New("databases must name at least one database"))
	}
	if !sslModes[c.SSLMode] {
		errs = append(errs, fmt.Errorf("ssl_mode %q: expected one of disable, allow, prefer, require, verify-ca, verify-full", c.SSLMode))
	}
	return errors.Join(errs...)
}
