package client

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the client's counters; Collector exposes them.
type metrics struct {
	aliveSent     *prometheus.CounterVec // network
	commands      *prometheus.CounterVec // command
	dropped       *prometheus.CounterVec // reason
	scriptSets    *prometheus.CounterVec // command, outcome
	resultsSent   *prometheus.CounterVec // status
	acksSent      *prometheus.CounterVec // network
	actions       *prometheus.CounterVec // action, outcome
	goenabled     *prometheus.CounterVec // tests, outcome
	goenabledSent *prometheus.CounterVec // message
	sendErrors    prometheus.Counter
}

func newMetrics() *metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mtcclient", Name: name, Help: help}, labels)
	}
	return &metrics{
		aliveSent:     cv("mtcalive_sent_total", "mtcAlive messages sent, by network.", "network"),
		commands:      cv("commands_total", "Agent commands accepted, by command name.", "command"),
		dropped:       cv("packets_dropped_total", "Received packets not acted on, by reason.", "reason"),
		scriptSets:    cv("script_sets_total", "Host-services script sets run, by command and outcome.", "command", "outcome"),
		resultsSent:   cv("results_sent_total", "Host-services result messages sent, by status (pass, failed, timeout, launch-failed).", "status"),
		acksSent:      cv("acks_sent_total", "ACKs sent, by network.", "network"),
		actions:       cv("actions_total", "Reboot-class actions, by action and outcome (done, failed, refused).", "action", "outcome"),
		goenabled:     cv("goenabled_runs_total", "GoEnabled test runs, by tests (main, subf) and outcome (pass, fail).", "tests", "outcome"),
		goenabledSent: cv("goenabled_sent_total", "GoEnabled messages sent in answer to the agent's requests, by message.", "message"),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtcclient", Name: "send_errors_total",
			Help: "Messages that could not be sent."}),
	}
}

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.aliveSent, m.commands, m.dropped, m.scriptSets, m.resultsSent, m.acksSent, m.actions, m.goenabled, m.goenabledSent, m.sendErrors}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all() {
		c.Collect(ch)
	}
}
