module amas.invalid/otelcol/pgstatsreceiver

go 1.26.0

require (
	github.com/jackc/pgx/v5 v5.12.0
	go.opentelemetry.io/collector/component v1.71.0
	go.opentelemetry.io/collector/config/configopaque v1.71.0
	go.opentelemetry.io/collector/consumer v1.71.0
	go.opentelemetry.io/collector/pdata v1.71.0
	go.opentelemetry.io/collector/receiver v1.71.0
	go.opentelemetry.io/collector/scraper v0.165.0
	go.opentelemetry.io/collector/scraper/scraperhelper v0.165.0
	go.uber.org/zap v1.28.0
)
