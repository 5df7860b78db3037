// Package pgstatsreceiver reads PostgreSQL's statistics views and reports them as metrics
// named like the contrib `postgresql` receiver's (postgresql.backends, postgresql.commits,
// postgresql.deadlocks, ...), so that dashboards and alerts keep working when the contrib
// receiver replaces it. It exists because the Go module proxy available here serves no
// version of the contrib postgresqlreceiver (see collector/builder-config.yaml).
package pgstatsreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
)

var componentType = component.MustNewType("pgstats")

// NewFactory is the factory the Collector builder registers.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		componentType,
		createDefaultConfig,
		receiver.WithMetrics(createMetrics, component.StabilityLevelDevelopment),
	)
}

func createDefaultConfig() component.Config {
	controller := scraperhelper.NewDefaultControllerConfig()
	controller.CollectionInterval = 30 * time.Second
	return &Config{
		ControllerConfig: controller,
		Endpoint:         "127.0.0.1:5432",
		Databases:        []string{"postgres"},
		SSLMode:          "prefer",
	}
}

func createMetrics(
	_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics,
) (receiver.Metrics, error) {
	config := cfg.(*Config)
	s := newStatsScraper(config, set.Logger)
	metrics, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	return scraperhelper.NewMetricsController(
		&config.ControllerConfig, set, next, scraperhelper.AddMetricsScraper(componentType, metrics),
	)
}
