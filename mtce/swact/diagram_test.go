package swact

import (
	"testing"

	"opendev.org/starlingx/metal-go/fsm/fsmtest"
)

// TestDiagrams fails when DIAGRAMS.md does not match the machine; go
// generate rewrites it.
func TestDiagrams(t *testing.T) {
	c := &Controller{cfg: DefaultConfig()}
	c.t = c.cfg.normalise(nil)
	def := c.definition()
	fsmtest.CheckDiagrams(t, "DIAGRAMS.md", "swact state machine (default swact_timeout 120 s)", &def)
}
