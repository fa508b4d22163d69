package scenario

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestAdminRequestReboot: the admin path (agent.Request) reboots a
// locked worker through the client's reboot command; the host goes
// offline, comes back online and stays locked. The same path refuses
// an action while a swact holds the mutex, as the event API does.
func TestAdminRequestReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		h := e.hosts["worker-0"]
		e.eventually(15*time.Second, "online", func() bool { return e.agentHost("worker-0").Online })
		e.mustAction("worker-0", "lock")
		e.eventually(2*time.Minute, "locked", func() bool { return e.states("worker-0") == "locked-disabled-online" })
		t0 := time.Now()
		if err := e.agent.Request(e.ctx, "worker-0", mtce.ActionReboot); err != nil {
			t.Fatal(err)
		}
		sawOffline := false
		e.eventually(5*time.Minute, "back online", func() bool {
			s := e.states("worker-0")
			sawOffline = sawOffline || s == "locked-disabled-offline"
			return h.State().Boots == 1 && s == "locked-disabled-online" && e.agentHost("worker-0").Running == ""
		})
		if !sawOffline {
			t.Errorf("SysInv never showed worker-0 offline while it rebooted (tasks %v)", e.tasks("worker-0"))
		}
		e.eventually(time.Minute, "task cleared", func() bool { return e.simHost("worker-0").Task == "" })
		t.Logf("rebooted and back after %v; tasks %v", time.Since(t0), e.tasks("worker-0"))
		if st := h.State(); st.Boots != 1 || !st.Locked || st.ServicesStarted != 0 {
			t.Fatalf("host %+v", st)
		}
		if got := e.commandsSince("worker-0", t0); len(got) == 0 || got[0] != wire.CmdReboot {
			t.Fatalf("host got %v", got)
		}
		if err := e.agent.Request(e.ctx, "worker-9", mtce.ActionReboot); !errors.Is(err, agent.ErrUnknownHost) {
			t.Errorf("unknown host: %v", err)
		}
		e.mustAction("controller-0", "swact")
		err := e.agent.Request(e.ctx, "worker-0", mtce.ActionUnlock)
		var re *agent.RejectedError
		if !errors.As(err, &re) {
			t.Fatalf("unlock during swact: %v", err)
		}
		t.Logf("refused: %v", re)
	})
}
