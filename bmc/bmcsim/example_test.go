package bmcsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"opendev.org/starlingx/metal-go/bmc/bmcsim"
)

// The emulator served in memory: read the service root, power the system
// on with a Reset action, and see the state change.
func Example() {
	sim, err := bmcsim.New(bmcsim.Config{}) // admin/secret, powered off
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	client := sim.Client() // in memory; any host name reaches the emulator

	resp, _ := client.Get("https://bmc/redfish/v1/")
	var root struct{ RedfishVersion, Product string }
	_ = json.NewDecoder(resp.Body).Decode(&root)
	resp.Body.Close()
	fmt.Println("RedfishVersion", root.RedfishVersion, "product", root.Product)

	req, _ := http.NewRequest("POST", "https://bmc/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
		strings.NewReader(`{"ResetType": "On"}`))
	req.SetBasicAuth("admin", "secret")
	resp, _ = client.Do(req)
	resp.Body.Close()
	fmt.Println("reset:", resp.StatusCode, "power:", sim.PowerState(), "log:", sim.ResetLog())
	// Output:
	// RedfishVersion 1.6.0 product bmcsim
	// reset: 204 power: On log: [On]
}

// Injected faults apply to matching requests, Count times.
func ExampleServer_InjectFault() {
	sim, _ := bmcsim.New(bmcsim.Config{})
	defer sim.Close()
	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Systems", Count: 1})
	for range 2 {
		req, _ := http.NewRequest("GET", "https://bmc/redfish/v1/Systems/1", nil)
		req.SetBasicAuth("admin", "secret")
		resp, _ := sim.Client().Do(req)
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// Output:
	// 500 Internal Server Error
	// 200 OK
}
