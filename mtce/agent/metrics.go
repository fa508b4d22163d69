package agent

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/hwmon"
	"opendev.org/starlingx/metal-go/workqueue"
)

// metrics are the agent's own counters.
type metrics struct {
	udpIn, udpOut, udpSendErrors atomic.Uint64
	alives, offlines, reboots    atomic.Uint64
	inventoryFailures            atomic.Uint64
	rejections, swacts           atomic.Uint64
	stopFailures, bootTimeouts   atomic.Uint64
	failures, unsupported        atomic.Uint64
	pwFailures, bmcProvisioning  atomic.Uint64
	reloads                      atomic.Uint64

	mu       sync.Mutex
	dropped  map[string]uint64
	events   map[evKey]uint64
	actions  map[[2]string]uint64
	powers   map[[2]string]uint64
	qAttempt map[string]uint64 // queue events by kind
	audits   map[string]uint64 // sensor audits by outcome
}

type evKey struct {
	client string
	code   int
}

func (m *metrics) init() {
	m.dropped = map[string]uint64{}
	m.events = map[evKey]uint64{}
	m.actions = map[[2]string]uint64{}
	m.powers = map[[2]string]uint64{}
	m.qAttempt = map[string]uint64{}
	m.audits = map[string]uint64{}
}

func (m *metrics) audit(a hwmon.Audit) {
	m.mu.Lock()
	m.audits[a.Outcome.String()]++
	m.mu.Unlock()
}

func (m *metrics) drop(reason string) {
	m.mu.Lock()
	m.dropped[reason]++
	m.mu.Unlock()
}

func (m *metrics) drops() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]uint64, len(m.dropped))
	for k, v := range m.dropped {
		out[k] = v
	}
	return out
}

func (m *metrics) eventObserved(e eventapi.Event) {
	m.mu.Lock()
	m.events[evKey{e.Client.String(), e.Code}]++
	m.mu.Unlock()
}

func (m *metrics) action(action, outcome string) {
	m.mu.Lock()
	m.actions[[2]string{action, outcome}]++
	m.mu.Unlock()
}

func (m *metrics) power(action string, err error) {
	o := "ok"
	if err != nil {
		o = "failed"
	}
	m.mu.Lock()
	m.powers[[2]string{action, o}]++
	m.mu.Unlock()
}

func (m *metrics) queueEvent(e workqueue.Event) {
	m.mu.Lock()
	m.qAttempt[e.Kind.String()]++
	m.mu.Unlock()
}

// Collector returns a prometheus.Collector of every metric the agent
// keeps: queue depth, attempts, retries and rejections; token renewals by
// cause, failures and the token's age; the swact stage and outcomes;
// hosts by state; UDP in, out and dropped by reason; event-API requests
// by client and code; admin actions by outcome; BMC power requests;
// sensor audits by outcome.
// Register it on your own registry (no global registration).
func (a *Agent) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Agent }

var (
	dQueueDepth  = prometheus.NewDesc("mtcagent_queue_pending", "Work-queue items admitted and not finished.", nil, nil)
	dQueueTotal  = prometheus.NewDesc("mtcagent_queue_items_total", "Work-queue counters.", []string{"counter"}, nil)
	dQueueEvents = prometheus.NewDesc("mtcagent_queue_events_total", "Work-queue observer events by kind.", []string{"kind"}, nil)
	dRenewals    = prometheus.NewDesc("mtcagent_token_renewals_total", "Token requests by cause.", []string{"cause"}, nil)
	dTokenFail   = prometheus.NewDesc("mtcagent_token_failures_total", "Failed token requests.", nil, nil)
	dTokenAge    = prometheus.NewDesc("mtcagent_token_age_seconds", "Age of the current token (absent without one).", nil, nil)
	dTokenHeld   = prometheus.NewDesc("mtcagent_token_gate_held", "1 while the token gate holds the queue.", nil, nil)
	dSwactHeld   = prometheus.NewDesc("mtcagent_swact_in_progress", "1 while the swact mutex is held, by stage.", []string{"stage"}, nil)
	dSwacts      = prometheus.NewDesc("mtcagent_swacts_accepted_total", "Swact requests accepted.", nil, nil)
	dSwactLast   = prometheus.NewDesc("mtcagent_swact_last_outcome", "The last swact's final task (value 1).", []string{"task"}, nil)
	dHosts       = prometheus.NewDesc("mtcagent_hosts", "Hosts by admin, oper and avail state.", []string{"admin", "oper", "avail"}, nil)
	dUDP         = prometheus.NewDesc("mtcagent_udp_messages_total", "UDP messages in and out.", []string{"direction"}, nil)
	dUDPDrop     = prometheus.NewDesc("mtcagent_udp_dropped_total", "UDP messages dropped by reason.", []string{"reason"}, nil)
	dEvents      = prometheus.NewDesc("mtcagent_eventapi_requests_total", "Event-API requests by client and HTTP code.", []string{"client", "code"}, nil)
	dActions     = prometheus.NewDesc("mtcagent_actions_total", "Host actions by action and outcome.", []string{"action", "outcome"}, nil)
	dPower       = prometheus.NewDesc("mtcagent_bmc_power_total", "BMC power requests by action and outcome.", []string{"action", "outcome"}, nil)
	dAudits      = prometheus.NewDesc("mtcagent_sensor_audits_total", "Hardware-monitor sensor audits by outcome.", []string{"outcome"}, nil)
	dCounters    = prometheus.NewDesc("mtcagent_events_total", "Other agent events.", []string{"event"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dQueueDepth, dQueueTotal, dQueueEvents, dRenewals, dTokenFail, dTokenAge, dTokenHeld,
		dSwactHeld, dSwacts, dSwactLast, dHosts, dUDP, dUDPDrop, dEvents, dActions, dPower, dAudits, dCounters} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	m := &a.met
	cnt := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	st := a.Status()
	cnt(dUDP, st.UDP.In, "in")
	cnt(dUDP, st.UDP.Out, "out")
	cnt(dUDP, st.UDP.SendErr, "send-error")
	for r, n := range st.UDP.Dropped {
		cnt(dUDPDrop, n, r)
	}
	if a.comp.Load() {
		q := a.q.Stats()
		gauge(dQueueDepth, float64(q.Pending))
		cnt(dQueueTotal, q.Admitted, "admitted")
		cnt(dQueueTotal, q.Attempts, "attempts")
		cnt(dQueueTotal, q.Retries, "retries")
		cnt(dQueueTotal, q.Rejected, "rejected")
		cnt(dQueueTotal, q.Succeeded, "succeeded")
		cnt(dQueueTotal, q.Failed, "failed")
		ks := a.km.Stats()
		cnt(dRenewals, ks.Renewals.First, "first")
		cnt(dRenewals, ks.Renewals.Expiry, "expiry")
		cnt(dRenewals, ks.Renewals.Periodic, "periodic")
		cnt(dRenewals, ks.Renewals.Unauthorized, "unauthorized")
		cnt(dTokenFail, ks.Failures.Total())
		if st.Token.Valid {
			gauge(dTokenAge, st.Token.Age.Seconds())
		}
		gauge(dTokenHeld, b2f(ks.Held))
		gauge(dSwactHeld, b2f(st.Swact.Held), st.Swact.Stage)
		if st.Swact.Last != "" {
			gauge(dSwactLast, 1, st.Swact.Last)
		}
	}
	cnt(dSwacts, m.swacts.Load())
	hosts := map[[3]string]int{}
	for _, h := range a.Hosts() {
		hosts[[3]string{h.Admin.String(), h.Oper.String(), h.Avail.String()}]++
	}
	for k, n := range hosts {
		gauge(dHosts, float64(n), k[0], k[1], k[2])
	}
	m.mu.Lock()
	for k, n := range m.events {
		cnt(dEvents, n, k.client, strconv.Itoa(k.code))
	}
	for k, n := range m.actions {
		cnt(dActions, n, k[0], k[1])
	}
	for k, n := range m.powers {
		cnt(dPower, n, k[0], k[1])
	}
	for k, n := range m.qAttempt {
		cnt(dQueueEvents, n, k)
	}
	for k, n := range m.audits {
		cnt(dAudits, n, k)
	}
	m.mu.Unlock()
	for name, v := range map[string]uint64{
		"mtcalive": m.alives.Load(), "offline": m.offlines.Load(), "reboot_detected": m.reboots.Load(),
		"inventory_failure": m.inventoryFailures.Load(), "eventapi_rejection": m.rejections.Load(),
		"stop_services_failure": m.stopFailures.Load(), "boot_timeout": m.bootTimeouts.Load(),
		"host_failed": m.failures.Load(), "unsupported_action": m.unsupported.Load(),
		"bmc_password_failure": m.pwFailures.Load(), "bmc_provisioning_change": m.bmcProvisioning.Load(),
		"reload": m.reloads.Load(),
	} {
		cnt(dCounters, v, name)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
