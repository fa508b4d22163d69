package workqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/workqueue"
)

// A lane per host: items of one host run in order, one at a time.
func Example() {
	q, err := workqueue.New(workqueue.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer q.Close(context.Background())

	var last *workqueue.Handle
	for _, task := range []string{"Enabling", "Enabled", "Available"} {
		last, err = q.Submit("compute-0", workqueue.Item{
			Name: "update task",
			Run: func(ctx context.Context, attempt int) error {
				fmt.Println("compute-0 task:", task)
				return nil
			},
		})
		if err != nil {
			panic(err)
		}
	}
	fmt.Println("wait:", last.Wait(context.Background()))
	// Output:
	// compute-0 task: Enabling
	// compute-0 task: Enabled
	// compute-0 task: Available
	// wait: <nil>
}

// An item is retried after a failure; OnAttempt sees every attempt.
func Example_retry() {
	cfg := workqueue.DefaultConfig()
	cfg.BackOff = workqueue.ConstantBackOff(10 * time.Millisecond) // StarlingX waits 5 s
	q, _ := workqueue.New(cfg)
	defer q.Close(context.Background())

	h, _ := q.Submit("controller-1", workqueue.Item{
		Name:     "sm query",
		Critical: true,
		Attempts: 3,
		Run: func(ctx context.Context, attempt int) error {
			if attempt < 3 {
				return errors.New("HTTP 503")
			}
			return nil
		},
		OnAttempt: func(a workqueue.Attempt) {
			fmt.Printf("attempt %d: err=%v final=%v\n", a.Number, a.Err, a.Final)
		},
	})
	fmt.Println("result:", h.Wait(context.Background()))
	// Output:
	// attempt 1: err=HTTP 503 final=false
	// attempt 2: err=HTTP 503 final=false
	// attempt 3: err=<nil> final=true
	// result: <nil>
}

// Admission is checked before enqueue: a full lane refuses the next item at
// once, and other lanes are unaffected.
func Example_overload() {
	cfg := workqueue.DefaultConfig()
	cfg.MaxPerKey = 2
	q, _ := workqueue.New(cfg)
	release := make(chan struct{})
	block := workqueue.Item{Run: func(ctx context.Context, _ int) error {
		<-release
		return nil
	}}

	for i := 1; i <= 3; i++ {
		_, err := q.Submit("compute-1", block)
		fmt.Printf("compute-1 item %d: overloaded=%v\n", i, errors.Is(err, workqueue.ErrOverloaded))
	}
	_, err := q.Submit("compute-2", block)
	fmt.Println("compute-2:", err)
	fmt.Println("rejected:", q.Stats().Rejected)

	close(release)
	q.Close(context.Background())
	_, err = q.Submit("compute-1", block)
	fmt.Println("after Close:", err)
	// Output:
	// compute-1 item 1: overloaded=false
	// compute-1 item 2: overloaded=false
	// compute-1 item 3: overloaded=true
	// compute-2: <nil>
	// rejected: 1
	// after Close: workqueue: closed
}

// WaitLane fails an action when a critical request failed; noncritical
// failures are only logged.
func ExampleQueue_WaitLane() {
	q, _ := workqueue.New(workqueue.DefaultConfig())
	defer q.Close(context.Background())

	q.Submit("compute-0", workqueue.Item{
		Name: "update uptime",
		Run: func(context.Context, int) error {
			return workqueue.Permanent(errors.New("HTTP 500"))
		},
	})
	q.Submit("compute-0", workqueue.Item{
		Name:     "vim host enabled",
		Critical: true,
		Run: func(context.Context, int) error {
			return workqueue.Permanent(errors.New("HTTP 400"))
		},
	})
	err := q.WaitLane(context.Background(), "compute-0", 200*time.Second)
	fmt.Println(err)
	fmt.Println("again:", q.WaitLane(context.Background(), "compute-0", 200*time.Second))
	// Output:
	// workqueue: key "compute-0" seq 2 (vim host enabled) failed after 1 attempt: HTTP 400
	// again: <nil>
}

// Purge drops a lane's work, cancelling the attempt in flight, so that a
// request can be resent at once.
func ExampleQueue_Purge() {
	q, _ := workqueue.New(workqueue.DefaultConfig())
	defer q.Close(context.Background())

	started := make(chan struct{})
	lost, _ := q.Submit("controller-0", workqueue.Item{
		Name: "swact",
		Run: func(ctx context.Context, _ int) error {
			close(started)
			<-ctx.Done() // the reply never comes
			return ctx.Err()
		},
		OnAttempt: func(a workqueue.Attempt) { fmt.Println("attempt ended:", a.Err) },
	})
	<-started
	fmt.Println("purged:", q.Purge("controller-0"))
	fmt.Println("lost:", errors.Is(lost.Err(), workqueue.ErrPurged), errors.Is(lost.Err(), workqueue.ErrAttemptAbandoned))

	resend, _ := q.Submit("controller-0", workqueue.Item{
		Name: "swact",
		Run:  func(context.Context, int) error { return nil },
	})
	fmt.Println("resend:", resend.Wait(context.Background()))
	// Output:
	// attempt ended: workqueue: purged (running attempt abandoned)
	// purged: 1
	// lost: true true
	// resend: <nil>
}

// gate is a Gate such as the keystone token manager: closed while a token
// is being renewed.
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *gate) Held() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		return nil
	}
	return g.ch
}

func (g *gate) set(closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case closed && g.ch == nil:
		g.ch = make(chan struct{})
	case !closed && g.ch != nil:
		close(g.ch)
		g.ch = nil
	}
}

// While the gate is closed, no attempt is dispatched and none is spent.
func ExampleGate() {
	g := &gate{}
	cfg := workqueue.DefaultConfig()
	cfg.Gate = g
	q, _ := workqueue.New(cfg)
	defer q.Close(context.Background())

	g.set(true) // a token renewal is in progress
	h, _ := q.Submit("compute-0", workqueue.Item{Run: func(context.Context, int) error {
		fmt.Println("request sent")
		return nil
	}})
	fmt.Println("attempts while held:", h.Attempts())
	g.set(false) // the new token is there
	fmt.Println(h.Wait(context.Background()))
	// Output:
	// attempts while held: 0
	// request sent
	// <nil>
}

// Permanent stops the retries at once.
func ExamplePermanent() {
	q, _ := workqueue.New(workqueue.DefaultConfig())
	defer q.Close(context.Background())
	h, _ := q.Submit("compute-0", workqueue.Item{Run: func(context.Context, int) error {
		return workqueue.Permanent(errors.New("HTTP 404"))
	}})
	err := h.Wait(context.Background())
	var e *workqueue.Error
	errors.As(err, &e)
	fmt.Println(e.Attempts, e.Err)
	// Output:
	// 1 HTTP 404
}
