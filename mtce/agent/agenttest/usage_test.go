package agenttest_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestUsage is the package's usage example: a worker boots and its client
// reports in; the agent (here, the test) locks it and reads the ACK.
// Everything runs in virtual time, which needs a synctest bubble and so a
// *testing.T: that is why it is a test and not an Example function.
func TestUsage(t *testing.T) {
	var out strings.Builder
	synctest.Test(t, func(*testing.T) {
		usage(&out)
	})
	const want = `worker-0 after 1m1s: uptime 61 s, flags 0
ACK: cgts mtc cmd rsp: locked msg
locked: true
`
	if out.String() != want {
		t.Errorf("got:\n%swant:\n%s", out.String(), want)
	}
}

func usage(w io.Writer) {
	{
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := agenttest.NewNetwork()
		agentAddr := netip.MustParseAddrPort("192.168.204.2:2101")
		conn := n.Agent(agentAddr, netip.AddrPort{})
		defer conn.Close()
		h, err := n.AddHost(agenttest.HostConfig{
			Name:        "worker-0",
			Personality: mtce.PersonalityWorker,
			Mgmt:        netip.MustParseAddrPort("192.168.204.50:2118"),
			MAC:         "08:00:27:aa:bb:01",
			AgentMgmt:   agentAddr,
		})
		if err != nil {
			fmt.Fprintln(w, err)
			return
		}
		defer h.Close()
		go h.Run(ctx)

		start := time.Now()
		p, _ := conn.Recv(ctx)
		a, _ := p.Message.MtcAlive()
		fmt.Fprintf(w, "%s after %v: uptime %d s, flags %v\n", a.Identity.Hostname, time.Since(start), a.Uptime, a.Flags)

		locked, _ := wire.NewLocked(wire.Target{MAC: "08:00:27:aa:bb:01", Address: "192.168.204.2", Network: mtce.NetworkMgmt}, true)
		conn.Send(ctx, mtce.NetworkMgmt, h.Config().Mgmt, &locked)
		for {
			p, _ = conn.Recv(ctx)
			if p.Message.Command != wire.CmdMtcAlive {
				break
			}
		}
		fmt.Fprintln(w, "ACK:", p.Message.Signature, p.Message.Command)
		fmt.Fprintln(w, "locked:", h.State().Locked)
	}
}
