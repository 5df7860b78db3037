package pgstatsreceiver

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

type attr struct{ key, value string }

// builder collects one scrape's data points; a metric is created once per name.
type builder struct {
	metrics pmetric.Metrics
	scope   pmetric.ScopeMetrics
	byName  map[string]series
	start   pcommon.Timestamp
	now     pcommon.Timestamp
}

type series struct {
	points     pmetric.NumberDataPointSlice
	start, now pcommon.Timestamp
	cumulative bool
}

func newBuilder(start pcommon.Timestamp) *builder {
	md := pmetric.NewMetrics()
	scope := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	scope.Scope().SetName(scopeName)
	return &builder{
		metrics: md, scope: scope, byName: map[string]series{},
		start: start, now: pcommon.NewTimestampFromTime(time.Now()),
	}
}

func (b *builder) sum(name, unit, description string, monotonic bool) series {
	if s, ok := b.byName[name]; ok {
		return s
	}
	m := b.newMetric(name, unit, description)
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(monotonic)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	s := series{points: sum.DataPoints(), start: b.start, now: b.now, cumulative: true}
	b.byName[name] = s
	return s
}

func (b *builder) gauge(name, unit, description string) series {
	if s, ok := b.byName[name]; ok {
		return s
	}
	m := b.newMetric(name, unit, description)
	s := series{points: m.SetEmptyGauge().DataPoints(), now: b.now}
	b.byName[name] = s
	return s
}

func (b *builder) newMetric(name, unit, description string) pmetric.Metric {
	m := b.scope.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	m.SetDescription(description)
	return m
}

func (s series) add(value int64, attrs ...attr) {
	point := s.points.AppendEmpty()
	point.SetIntValue(value)
	point.SetTimestamp(s.now)
	if s.cumulative {
		point.SetStartTimestamp(s.start)
	}
	for _, a := range attrs {
		point.Attributes().PutStr(a.key, a.value)
	}
}
