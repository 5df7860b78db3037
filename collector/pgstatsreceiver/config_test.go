package pgstatsreceiver

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func validConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Username = "amas"
	return cfg
}

func TestDefaultConfigWithAUserIsValid(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("default config with a username: %v", err)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	cfg := validConfig()
	cfg.Endpoint, cfg.Username, cfg.Databases, cfg.SSLMode = "no-port", "", nil, "maybe"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("expected an error")
	}
	for _, want := range []string{"endpoint", "username", "databases", "ssl_mode"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// A value with quotes, backslashes and spaces survives the connection string: the parsed
// config holds it unchanged, and sslmode=prefer's plaintext fallback keeps host and port.
func TestQuotedConnectionStringValues(t *testing.T) {
	odd := `it's a \ db`
	cfg, err := pgx.ParseConfig("host=" + quote("db.example") + " port=" + quote("6543") +
		" dbname=" + quote(odd) + " user=" + quote(odd) + " sslmode=prefer")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != odd || cfg.User != odd {
		t.Errorf("database %q, user %q; want %q", cfg.Database, cfg.User, odd)
	}
	if len(cfg.Fallbacks) == 0 {
		t.Fatal("sslmode=prefer gives no fallback")
	}
	for _, fallback := range cfg.Fallbacks {
		if fallback.Host != "db.example" || fallback.Port != 6543 {
			t.Errorf("fallback %s:%d; want db.example:6543", fallback.Host, fallback.Port)
		}
	}
}
