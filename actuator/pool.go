package actuator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

// PoolScaler changes the size of a node pool: the stand-in for a cloud API.
// remove names the nodes (already drained) to delete on scale-in.
type PoolScaler interface {
	SetSize(ctx context.Context, pool string, current, desired int, remove []string, reason string) error
}

// PoolNodes is what the scale_pool action asks of Nomad: the pool's nodes
// and their live allocations (listed once), and draining the nodes a
// scale-in removes.
type PoolNodes interface {
	NodeReader
	AllocLister
	Drain(ctx context.Context, node string, deadline time.Duration) error
}

func newPoolScaler(t PoolTarget, nomadAddr, token string) (PoolScaler, error) {
	switch t.Type {
	case "nomad_sim":
		if nomadAddr == "" {
			nomadAddr = "http://127.0.0.1:4646"
		}
		return &SimPool{Address: nomadAddr, Token: token, Client: &http.Client{Timeout: durOr(t.Timeout, 30*time.Second)}}, nil
	case "command":
		return &CommandPool{Argv: t.Command, Timeout: durOr(t.Timeout, 5*time.Minute)}, nil
	}
	return nil, fmt.Errorf("target.type %q: valid types are nomad_sim, command", t.Type)
}

// SimPool is the simulator's node-pool API: POST /v1/fleetcast/pool/:name/size.
type SimPool struct {
	Address string
	Token   string
	Client  *http.Client
}

// SetSize asks the simulator for the new size.
func (s *SimPool) SetSize(ctx context.Context, pool string, current, desired int, remove []string, reason string) error {
	body, err := json.Marshal(map[string]any{"Count": desired, "Remove": remove, "Reason": reason})
	if err != nil {
		return err
	}
	u := strings.TrimRight(s.Address, "/") + "/v1/fleetcast/pool/" + url.PathEscape(pool) + "/size"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Token != "" {
		req.Header.Set("X-Nomad-Token", s.Token)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return &NomadError{Op: "pool size " + pool, Err: err}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err := resp.Body.Close(); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotFound && !strings.Contains(string(b), "pool") {
		// A real Nomad has no /v1/fleetcast/ API: the target is wrong, not the pool.
		return &NomadError{Op: "pool size " + pool, Status: resp.StatusCode, Err: fmt.Errorf("%s from %s: the nomad_sim target works only against fleetcast's simulator; "+
			"on a real Nomad set scale_pool.target.type: command with a program that resizes the pool (Terraform, a cloud CLI)", resp.Status, s.Address)}
	}
	if resp.StatusCode/100 != 2 {
		return &NomadError{Op: "pool size " + pool, Status: resp.StatusCode, Err: fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))}
	}
	return nil
}

// CommandPool runs a program (Terraform wrapper, cloud CLI...) with the
// desired size in its environment.
type CommandPool struct {
	Argv    []string
	Timeout time.Duration
}

// SetSize runs the command; a non-zero exit is an error carrying its output.
func (c *CommandPool) SetSize(ctx context.Context, pool string, current, desired int, remove []string, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(os.Environ(),
		"FLEETCAST_POOL="+pool,
		"FLEETCAST_CURRENT="+strconv.Itoa(current),
		"FLEETCAST_DESIRED="+strconv.Itoa(desired),
		"FLEETCAST_REMOVE="+strings.Join(remove, ","),
		"FLEETCAST_REASON="+reason,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &NomadError{Op: "pool command " + c.Argv[0], Err: fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))}
	}
	return nil
}

func (a *Actuator) scalePool(ctx context.Context, d *decision, p *Policy) Outcome {
	l := d.alert.Labels
	name := l["node_pool"]
	sp := p.ScalePool
	stubs, err := a.poolNodes.Nodes(ctx, name)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	allocs, err := a.poolNodes.LiveAllocs(ctx, staying(stubs))
	if err != nil {
		return a.nomadFailed(d, err)
	}
	st := poolState(name, stubs, allocs)
	skey := "pool/" + name
	prev, err := a.cur().state.Get(ctx, skey)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	if prev["alert_key"] == d.actKey && prev["held"] != "true" {
		return ok(ResultDuplicate, "the pool's state in Nomad already holds this alert's action")
	}
	if t, err := time.Parse(time.RFC3339Nano, prev["last_change"]); err == nil {
		st.LastChange = t
	}
	f, bad := a.forecastFor(ctx, d, sp.query, l)
	if bad != nil {
		return *bad
	}
	plan, err := planner.PlanPool(st, sp.planner(), f, d.dir, d.esc, a.o.Now())
	if err != nil {
		return Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
	}
	d.plan = plan
	if plan.Noop {
		if plan.CooldownRemaining > 0 {
			return ok(ResultCooldown, plan.Reason)
		}
		return ok(ResultNoop, plan.Reason)
	}
	target := a.cur().pools[p.Name]
	return a.act(ctx, d, plan.Reason, func() Outcome {
		d.held = plan.Held
		saved := func() {
			err := a.cur().state.Put(ctx, skey, map[string]string{"last_change": a.o.Now().UTC().Format(time.RFC3339Nano), "alert_key": d.actKey,
				"from": strconv.Itoa(plan.From), "to": strconv.Itoa(plan.To), "reason": plan.Reason, "held": strconv.FormatBool(plan.Held)})
			if err != nil {
				d.nomad += "; pool state not saved (cooldown may not survive a restart): " + err.Error()
			}
		}
		a.o.Metrics.LastAction.WithLabelValues(ActionScalePool, "", "", "", "", name).Set(float64(a.o.Now().Unix()))
		if plan.To > plan.From {
			if err := target.SetSize(ctx, name, plan.From, plan.To, nil, plan.Reason); err != nil {
				return a.nomadFailed(d, err)
			}
			d.nomad = fmt.Sprintf("pool %s: size %d -> %d requested", name, plan.From, plan.To)
			saved()
			return ok(ResultActed, plan.Reason)
		}
		deadline := durOr(sp.DrainDeadline, 10*time.Minute)
		for _, id := range plan.Remove {
			if err := a.poolNodes.Drain(ctx, id, deadline); err != nil {
				return a.nomadFailed(d, err)
			}
		}
		d.nomad = fmt.Sprintf("pool %s: draining %v (deadline %s); the target removes them once drained", name, plan.Remove, deadline)
		saved()
		a.shrinkAfterDrain(name, plan, deadline, target)
		return ok(ResultActed, plan.Reason)
	})
}

// poolState is the pool's nodes as the pool planner sees them, from their
// live allocations (by node ID, LiveAllocs): a down or draining node is
// leaving already and not part of the size planned from; each other node
// with how many allocations it runs and the CPU they reserve.
func poolState(name string, stubs []*api.NodeListStub, allocs map[string][]*api.AllocationListStub) planner.PoolState {
	st := planner.PoolState{Name: name}
	for _, s := range stubs {
		if !stays(s) {
			continue
		}
		n := planner.Node{ID: s.ID, Pool: name, Eligible: s.SchedulingEligibility == api.NodeSchedulingEligible}
		for _, al := range allocs[s.ID] {
			if liveStatus(al.DesiredStatus, al.ClientStatus) {
				cpu, _ := reservedBy(al.AllocatedResources)
				n.Allocs++
				n.Predicted += cpu
			}
		}
		st.Nodes = append(st.Nodes, n)
	}
	return st
}

// shrinkAfterDrain waits, in the background and bounded by the drain
// deadline plus a minute, until the chosen nodes have drained, and only then
// asks the target to remove them.
func (a *Actuator) shrinkAfterDrain(pool string, plan planner.PoolPlan, deadline time.Duration, target PoolScaler) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ctx := a.bgCtx
		giveUp := a.o.Now().Add(deadline + time.Minute)
		for _, id := range plan.Remove {
			for {
				n, err := a.poolNodes.Node(ctx, id)
				if err == nil && (n.DrainStrategy == nil || n.Status == "down") {
					break
				}
				if a.o.Now().After(giveUp) {
					a.o.Audit.Warn("drain did not finish in time: not removing nodes", "pool", pool, "node", id, "err", err)
					return
				}
				if a.o.Sleep(ctx, time.Second) != nil {
					a.o.Audit.Warn("shutting down while nodes drain: they are not removed from the pool; a later scale-in decides again",
						"pool", pool, "nodes", plan.Remove)
					return
				}
			}
		}
		err := target.SetSize(ctx, pool, plan.From, plan.To, plan.Remove, plan.Reason)
		if err != nil {
			a.o.Metrics.NomadErrors.Inc()
		}
		a.o.Audit.Info("pool scale-in after drain", "pool", pool, "from", plan.From, "to", plan.To, "removed", plan.Remove, "err", err)
	}()
}
