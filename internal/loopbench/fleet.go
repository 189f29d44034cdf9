package loopbench

import (
	"time"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

// Fleet is the simulated fleet as the driver sees it: one job whose demand
// replays a trace, on one node pool whose nodes boot with a delay. The
// simulator implements it (see simfleet.go); tests use small fakes.
type Fleet interface {
	// Advance moves the fleet's virtual clock to t.
	Advance(t time.Time) error
	// View is the fleet's state now, as its metrics and Nomad's API show it.
	View() (View, error)
	// ScaleGroup sets the job's task-group count.
	ScaleGroup(count int, reason string) error
	// ScalePool sets the node pool's size; remove names the nodes to drain
	// first on scale-in.
	ScalePool(size int, remove []string, reason string) error
}

// View is what a policy may see at one decision: the present, never the
// future. Demand is the job's CPU use now (MHz), as its metrics show it.
type View struct {
	Demand   float64
	Served   float64 // the part of Demand the running allocations serve
	Count    int     // the task group's desired count
	Running  int     // allocations placed and running
	Queued   int     // allocations the scheduler could not place
	AllocCPU float64 // MHz each allocation reserves

	Nodes    []planner.Node // ready nodes of the pool
	Booting  int            // nodes asked for and still booting
	NodeCPU  float64        // MHz of one node
	PoolSize int            // the pool's desired size (ready + booting)

	GroupLastChange time.Time
	PoolLastChange  time.Time
}

// Capacity is the CPU the running allocations can serve.
func (v View) Capacity() float64 { return float64(v.Running) * v.AllocCPU }

// Action is one change a policy asked for.
type Action struct {
	At       time.Time
	Kind     string // scale_group, scale_pool or migrate
	From, To int
	Remove   []string
	Reason   string
}

// Policy decides, from the view at now, what to change.
type Policy interface {
	Name() string
	Decide(now time.Time, v View) ([]Action, error)
}
