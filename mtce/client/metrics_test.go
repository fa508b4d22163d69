package client

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// counterValue returns the value of the counter name whose label values
// are exactly values (in any order); 0 when absent.
func counterValue(t testing.TB, c *Client, name string, values ...string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(values)
	slices.Sort(want)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			slices.Sort(got)
			if slices.Equal(got, want) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
