package mtce

// Host is maintenance's view of one host: its identity, states and BMC
// fields, with the key names of sysinv's host record (spec J.4) as JSON
// tags. The typed fields' zero values are their "none" members, so an
// absent or null state reads as mtce reads it. String fields keep what the
// record says: "none" where StarlingX wrote it, but "" where a decoded
// body lacks the key (mtce would read "none"); the methods below treat ""
// and "none" alike.
//
// Decoding JSON into a Host fails on a state, action, personality or
// bm_type text that mtce does not know (the error names it); the task field
// keeps any text. A server that must answer unknown values as mtce does
// (an unknown action is FAIL_ADMIN_ACTION, not a parse error, spec J.5,
// J.9) should read those fields as strings and call the Parse functions.
//
// Host is a plain value: copy it freely; it holds no secret (the BMC
// password is never part of it).
type Host struct {
	Name          string      `json:"hostname"`
	UUID          string      `json:"uuid"`
	Personality   Personality `json:"personality"`
	Subfunctions  string      `json:"subfunctions"` // verbatim, e.g. "controller,worker,lowlatency"
	MgmtIP        string      `json:"mgmt_ip"`
	MgmtMAC       string      `json:"mgmt_mac"` // lower-case "aa:bb:cc:dd:ee:ff"
	ClusterHostIP string      `json:"cluster_host_ip"`

	Admin     AdminState  `json:"administrative"`
	Oper      OperState   `json:"operational"`
	Avail     AvailStatus `json:"availability"`
	SubfOper  OperState   `json:"subfunction_oper"`  // worker subfunction on AIO controllers
	SubfAvail AvailStatus `json:"subfunction_avail"` // worker subfunction on AIO controllers

	Task   Task        `json:"task"`
	Action AdminAction `json:"action"`

	BMIP       string  `json:"bm_ip"`
	BMUsername string  `json:"bm_username"`
	BMType     BMCType `json:"bm_type"`
}

// Functions returns the node functions named by h.Subfunctions, computed as
// mtce does ([FunctionsOf]).
func (h Host) Functions() NodeFunctions { return FunctionsOf(h.Subfunctions) }

// BMCProvisioned reports whether h's BMC fields are complete by mtce's rule
// (spec J.5): a bm_type other than none, a bm_ip that is neither empty nor
// "none", and a bm_username that is neither empty nor "none".
func (h Host) BMCProvisioned() bool {
	return h.BMType.Provisioned() && present(h.BMIP) && present(h.BMUsername)
}

// UnlockedEnabled reports whether h is unlocked and enabled, the state in
// which mtce acts on out-of-band failure flags (spec E.2).
func (h Host) UnlockedEnabled() bool { return h.Admin == AdminUnlocked && h.Oper == OperEnabled }

func present(s string) bool { return s != "" && s != "none" }
