package mtce_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"opendev.org/starlingx/metal-go/mtce"
)

func ExampleParseAvailStatus() {
	for _, s := range []string{"power-off", "none", "powered-off"} {
		a, err := mtce.ParseAvailStatus(s)
		fmt.Println(a, err, errors.Is(err, mtce.ErrInvalid))
	}
	// Output:
	// power-off <nil> false
	// none <nil> false
	// none mtce: invalid availability status "powered-off" true
}

func ExampleFunctionsOf() {
	f := mtce.FunctionsOf("controller,worker,lowlatency")
	fmt.Println(f, f.Main(), f.Has(mtce.FunctionWorker), uint32(f))
	// mtce's rule is a case-sensitive substring match.
	fmt.Println(mtce.FunctionsOf("Controller"))
	// Output:
	// controller,worker controller true 3
	// none
}

func ExampleSystemTypeOf() {
	fmt.Println(mtce.SystemTypeOf("Standard", "duplex"))
	fmt.Println(mtce.SystemTypeOf("All-in-one", "duplex-direct"))
	fmt.Println(mtce.SystemTypeOf("All-in-one", "")) // mtce's default
	// Output:
	// standard
	// duplex-direct
	// simplex
}

func ExampleHost() {
	var h mtce.Host
	body := `{"hostname":"worker-1","uuid":"4f9a3c1e-2b7d-4e8a-9c6f-1d2e3f4a5b6c","personality":"worker",
		"subfunctions":"worker","administrative":"unlocked","operational":"enabled","availability":"degraded",
		"subfunction_oper":null,"bm_type":"ipmi","bm_ip":"10.10.10.11","bm_username":"admin","task":""}`
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		panic(err)
	}
	fmt.Println(h.Name, h.Admin, h.Oper, h.Avail, h.SubfOper, h.Task, h.Functions(), h.BMCProvisioned())
	// Output:
	// worker-1 unlocked enabled degraded none none worker true
}

func ExampleRC() {
	err := mtce.FailNoCmdAck.Err()
	fmt.Println(err)
	fmt.Println(mtce.RCOf(err), mtce.RCOf(nil), mtce.RC(107))
	// Output:
	// mtce: FAIL_NO_CMD_ACK (rc:123)
	// FAIL_NO_CMD_ACK PASS FAIL_OPERATION
}

func ExampleTaskRebootFailRetry() {
	t := mtce.TaskRebootFailRetry(2, 5)
	back, err := mtce.ParseTask(string(t))
	fmt.Println(t, back == t, err)
	// Output:
	// Reboot Failed, retrying (2 of 5) true <nil>
}
