package wire_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

func ExampleNewMtcAlive() {
	m, err := wire.NewMtcAlive(wire.Alive{
		Uptime:   3600,
		Health:   wire.HealthHealthy,
		Flags:    wire.FlagConfigured | wire.FlagMainGoEnabled,
		Sequence: 1,
		Identity: wire.Identity{
			Hostname: "worker-0", Personality: "worker", MgmtIP: "192.168.204.10",
			MgmtMAC: "08:00:27:aa:bb:cc", Interface: mtce.NetworkMgmt,
		},
	})
	if err != nil {
		panic(err)
	}
	b, _ := m.MarshalBinary()
	fmt.Println(len(b), m.Signature, m.Command, wire.AliveFlags(m.Parm[wire.ParmFlags]))
	fmt.Println(m.Buf)
	// Output:
	// 275 cgts mtc message: mtcAlive msg configured|main-goenabled
	// {"hostname":"worker-0","personality":"worker","pxeboot_ip":"","mgmt_ip":"192.168.204.10","cluster_host_ip":"","mgmt_mac":"08:00:27:aa:bb:cc","interface":"Mgmnt","sequence":1}
}

func ExampleDecode() {
	for _, payload := range [][]byte{
		wire.AppendCollectd(nil, "compute-1", wire.DegradeAssert, "cpu"),
		[]byte("too short"),
	} {
		d, err := wire.Decode(payload)
		switch {
		case errors.Is(err, wire.ErrShort):
			fmt.Println("dropped:", err)
		case err != nil:
			fmt.Println("error:", err)
		case d.Kind == wire.KindJSON:
			fmt.Println(d.JSON.Service, d.JSON.Hostname, d.JSON.Degrade, d.JSON.Resource)
		default:
			fmt.Println(d.Message.Command)
		}
	}
	// Output:
	// collectd_notifier compute-1 assert cpu
	// dropped: wire: datagram shorter than 100 bytes (9 bytes)
}

// A client answering a stop-worker-services command; the agent side waits
// for the ACK and then for the result.
func ExampleRequestHostServices() {
	agent, client := wire.Pipe(4)
	defer agent.Close()
	go func() {
		ctx := context.Background()
		req, _ := client.Recv(ctx)
		ack, _ := wire.NewHostServicesAck(req, mtce.Pass)
		client.Send(ctx, &ack)
		res, _ := wire.NewHostServicesResult(wire.Result{
			Kind: wire.ResultFailed, Script: "/etc/services.d/worker/k8s-pod-recovery", ExitCode: 1,
		})
		client.Send(ctx, &res)
	}()

	req, _ := wire.NewHostServicesRequest(mtce.FunctionWorker, false,
		wire.Target{MAC: "08:00:27:aa:bb:cc", Address: "192.168.204.1", Network: mtce.NetworkMgmt})
	r, err := wire.RequestHostServices(context.Background(), agent, &req, 300*time.Second)
	fmt.Println(r.Kind, r.Script, r.ExitCode)
	fmt.Println(mtce.RCOf(err))
	// Output:
	// failed /etc/services.d/worker/k8s-pod-recovery 1
	// FAIL_OPERATION
}

func ExampleParseResultText() {
	r := wire.ParseResultText(mtce.FailTimeout, "/etc/services.d/controller/sm timeout")
	fmt.Println(r.Kind, r.Script)
	r = wire.ParseResultText(mtce.Pass, "stop controller host services")
	fmt.Println(r.Kind, r.Command)
	// Output:
	// timeout /etc/services.d/controller/sm
	// pass stop controller host services
}
