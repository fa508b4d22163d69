package redfish_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"opendev.org/starlingx/metal-go/bmc"
)

// tree serves a fixed Redfish tree (testdata/*.json: path → document) and
// records the paths requested. Unknown paths are 404.
type tree struct {
	docs map[string]json.RawMessage
	mu   sync.Mutex
	log  []string
}

func loadTree(t *testing.T, file string) *tree {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tree{}
	if err := json.Unmarshal(b, &tr.docs); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *tree) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.mu.Lock()
	tr.log = append(tr.log, req.URL.Path)
	tr.mu.Unlock()
	rec := httptest.NewRecorder()
	if doc, ok := tr.docs[req.URL.Path]; ok && req.Method == http.MethodGet {
		rec.Header().Set("Content-Type", "application/json")
		rec.Write(doc)
	} else {
		rec.WriteHeader(http.StatusNotFound)
		rec.WriteString(`{"error":{"code":"Base.1.0.ResourceMissingAtURI","message":"not in the fixture"}}`)
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (tr *tree) requested(path string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Contains(tr.log, path)
}

// A chassis with the older model and the subsystems but no Sensors
// collection: newer-model fans and supplies are matched to older-model
// entries by MemberId, @odata.id and DataSourceUri, and only new ones are
// added. Quoted readings are read, an absent supply is one unavailable
// sensor, and a ContainedBy that points back at the chassis is not a loop.
func TestFixtureThermalAndSubsystems(t *testing.T) {
	tr := loadTree(t, "testdata/tree-thermal-and-subsystems.json")
	cfg := memConfig(nil)
	cfg.Transport = tr
	d := open(t, cfg)
	if !d.Capabilities().Has(bmc.CapSensors) {
		t.Fatalf("capabilities %s", d.Capabilities())
	}
	got, err := d.Sensors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, s := range got {
		rows = append(rows, string(s.Type)+": "+s.String())
	}
	want := []string{
		"temperature: Board Temp | 30 | degrees C | ok",
		"fan: Fan A | 3000 | RPM | ok",
		"fan: Fan B | 3100 | RPM | ok",
		"voltage: VBAT | 3.1 | Volts | ok",
		"power: PS A | 400 | Watts | ok",
		"fan: Fan C | 61 | Percent | nc",
		"power: PS B | 410 | Watts | ok",
		"voltage: PS B Input Voltage | 229.5 | Volts | ok",
		"power: PS B Input Power | na | Watts | na",
		"power: PS C | na | Watts | na",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("sensors\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{"/redfish/v1/Chassis/Board/PowerSubsystem/PowerSupplies/PS0/Metrics",
		"/redfish/v1/Chassis/Board/PowerSubsystem/PowerSupplies/PS2/Metrics", "/redfish/v1/Chassis/Board/"} {
		if tr.requested(p) {
			t.Errorf("%s was requested", p)
		}
	}
}
