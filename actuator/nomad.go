package actuator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/internal/nomadver"
)

// NomadAPI carries out every action: it implements the interface each
// action declares for the Nomad calls it makes (GroupScaler in
// scalegroup.go, NodeMigrator in migrate.go, PoolNodes in pool.go; the
// NodeReader and AllocLister they share in migrate.go) and the StateStore.
var (
	_ GroupScaler  = (*NomadAPI)(nil)
	_ NodeMigrator = (*NomadAPI)(nil)
	_ PoolNodes    = (*NomadAPI)(nil)
	_ AllocLister  = (*NomadAPI)(nil)
	_ StateStore   = (*NomadAPI)(nil)
)

// ErrDeploymentActive is returned, wrapped, when Nomad refuses a scale
// because a deployment is running.
var ErrDeploymentActive = errors.New("job scaling blocked due to active deployment")

// ErrJobChanged is returned, wrapped, when the job changed between reading
// its state and scaling it (someone else scaled or updated it).
var ErrJobChanged = errors.New("job changed since it was read")

// NomadError is an error from Nomad with its HTTP status (0 when Nomad was
// not reached at all).
type NomadError struct {
	Op     string
	Status int
	Err    error
}

func (e *NomadError) Error() string { return fmt.Sprintf("nomad %s: %v", e.Op, e.Err) }
func (e *NomadError) Unwrap() error { return e.Err }

// Retryable says whether Alertmanager should send again: Nomad unreachable
// or failing (5xx), not a request Nomad rejected as wrong (4xx).
func (e *NomadError) Retryable() bool {
	return e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusConflict
}

func wrapNomad(op string, err error) error {
	if err == nil {
		return nil
	}
	ne := &NomadError{Op: op, Err: err}
	var ur api.UnexpectedResponseError
	if errors.As(err, &ur) {
		ne.Status = ur.StatusCode()
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "blocked due to active deployment"):
		ne.Err = fmt.Errorf("%w: %v", ErrDeploymentActive, err)
	case strings.Contains(msg, "conflicting job modify index"):
		ne.Err = fmt.Errorf("%w: %v", ErrJobChanged, err)
		ne.Status = http.StatusConflict // decide again from fresh state: retryable
	}
	return ne
}

// NomadAPI is Nomad through github.com/hashicorp/nomad/api.
type NomadAPI struct {
	C *api.Client
	// Timeout bounds each call (DefaultNomadTimeout when zero), so a hung
	// Nomad cannot hold an object's lock for as long as the client waits.
	Timeout time.Duration
}

// DefaultNomadTimeout bounds one Nomad call unless nomad.timeout says otherwise.
const DefaultNomadTimeout = 30 * time.Second

func (n *NomadAPI) call(ctx context.Context) (context.Context, context.CancelFunc) {
	t := n.Timeout
	if t <= 0 {
		t = DefaultNomadTimeout
	}
	return context.WithTimeout(ctx, t)
}

// NewNomadAPI builds a client. The token is passed in, never logged.
func NewNomadAPI(address, region, token string, hc *http.Client) (*NomadAPI, error) {
	cfg := api.DefaultConfig()
	if address != "" {
		cfg.Address = address
	}
	cfg.Region = region
	cfg.SecretID = token
	if hc != nil {
		cfg.HttpClient = hc
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("nomad client for %s: %w", cfg.Address, err)
	}
	return &NomadAPI{C: c}, nil
}

func qo(ctx context.Context, ns string) *api.QueryOptions {
	return (&api.QueryOptions{Namespace: ns}).WithContext(ctx)
}

func wo(ctx context.Context, ns string) *api.WriteOptions {
	return (&api.WriteOptions{Namespace: ns}).WithContext(ctx)
}

func (n *NomadAPI) ScaleStatus(ctx context.Context, ns, job string) (*api.JobScaleStatusResponse, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	r, _, err := n.C.Jobs().ScaleStatus(job, qo(ctx, ns))
	return r, wrapNomad("scale status "+ns+"/"+job, err)
}

func (n *NomadAPI) Scale(ctx context.Context, ns, job, group string, count int, msg string, meta map[string]any, index uint64) error {
	ctx, cancel := n.call(ctx)
	defer cancel()
	c := int64(count)
	req := &api.ScalingRequest{Count: &c, Target: map[string]string{"Job": job, "Group": group}, Message: msg, Meta: meta, JobModifyIndex: index}
	_, _, err := n.C.Jobs().ScaleWithRequest(job, req, wo(ctx, ns))
	return wrapNomad("scale "+ns+"/"+job+"/"+group, err)
}

func (n *NomadAPI) Job(ctx context.Context, ns, job string) (*api.Job, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	j, _, err := n.C.Jobs().Info(job, qo(ctx, ns))
	return j, wrapNomad("job "+ns+"/"+job, err)
}

func (n *NomadAPI) Node(ctx context.Context, id string) (*api.Node, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	nd, _, err := n.C.Nodes().Info(url.PathEscape(id), qo(ctx, ""))
	return nd, wrapNomad("node "+id, err)
}

func (n *NomadAPI) NodeAllocations(ctx context.Context, id string) ([]*api.Allocation, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	a, _, err := n.C.Nodes().Allocations(url.PathEscape(id), qo(ctx, ""))
	return a, wrapNomad("node allocations "+id, err)
}

// liveAllocsFilter keeps, on the server, the allocations that hold their
// node's resources (liveStatus); filter expressions on /v1/allocations
// came with Nomad 1.3.0.
var liveAllocsFilter = fmt.Sprintf("DesiredStatus == %q and (ClientStatus == %q or ClientStatus == %q)",
	api.AllocDesiredStatusRun, api.AllocClientStatusRunning, api.AllocClientStatusPending)

// LiveAllocs lists the live allocations of the given nodes in one request,
// whatever their number: GET /v1/allocations across every namespace the
// token may read-job in (namespace=*), with what each reserves
// (resources=true), without task states (task_states=false, the bulk of
// the list), filtered on the server to live ones. The list stub carries
// no node pool, so the cluster's live allocations come back and are
// grouped by node here, keeping the nodes asked for.
func (n *NomadAPI) LiveAllocs(ctx context.Context, nodes []string) (map[string][]*api.AllocationListStub, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	q := qo(ctx, "*")
	q.Filter = liveAllocsFilter
	q.Params = map[string]string{"resources": "true", "task_states": "false"}
	l, _, err := n.C.Allocations().List(q)
	if err != nil {
		return nil, wrapNomad("allocations", err)
	}
	want := make(map[string]bool, len(nodes))
	for _, id := range nodes {
		want[id] = true
	}
	out := map[string][]*api.AllocationListStub{}
	for _, s := range l {
		// Checked again: a server that ignores the filter must not count
		// stopped allocations.
		if s != nil && want[s.NodeID] && liveStatus(s.DesiredStatus, s.ClientStatus) {
			out[s.NodeID] = append(out[s.NodeID], s)
		}
	}
	return out, nil
}

func (n *NomadAPI) Nodes(ctx context.Context, pool string) ([]*api.NodeListStub, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	q := qo(ctx, "")
	if pool != "" {
		q.Filter = fmt.Sprintf("NodePool == %q", pool)
	}
	// The nodes' resources with the list, so the room a pool has and the
	// capacity of a migration's destinations are read without one more
	// call per node (listedOffers falls back to it when a server leaves
	// them out).
	q.Params = map[string]string{"resources": "true"}
	l, _, err := n.C.Nodes().List(q)
	if err != nil {
		return nil, wrapNomad("nodes", err)
	}
	// Filter again: a server that ignores the filter must not widen the pool.
	out := l[:0]
	for _, s := range l {
		if pool == "" || s.NodePool == pool {
			out = append(out, s)
		}
	}
	return out, nil
}

func (n *NomadAPI) StopAlloc(ctx context.Context, ns, id string) error {
	ctx, cancel := n.call(ctx)
	defer cancel()
	_, err := n.C.Allocations().Stop(&api.Allocation{ID: url.PathEscape(id), Namespace: ns}, qo(ctx, ns))
	return wrapNomad("stop alloc "+id, err)
}

func (n *NomadAPI) SetEligibility(ctx context.Context, node string, eligible bool) error {
	ctx, cancel := n.call(ctx)
	defer cancel()
	_, err := n.C.Nodes().ToggleEligibility(url.PathEscape(node), eligible, wo(ctx, ""))
	return wrapNomad("eligibility "+node, err)
}

func (n *NomadAPI) Drain(ctx context.Context, node string, deadline time.Duration) error {
	ctx, cancel := n.call(ctx)
	defer cancel()
	_, err := n.C.Nodes().UpdateDrain(url.PathEscape(node), &api.DrainSpec{Deadline: deadline}, false, wo(ctx, ""))
	return wrapNomad("drain "+node, err)
}

// AllocHealthy counts the healthy allocations of a task group: the
// deployment's healthy count, or for batch jobs the running ones. jobType
// is the job's type when the caller knows it (a migration's health wait
// polls once a second and read the job when it planned); "" reads the job
// when its type decides.
func (n *NomadAPI) AllocHealthy(ctx context.Context, ns, job, group, jobType string) (int, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	st, _, err := n.C.Jobs().ScaleStatus(job, qo(ctx, ns))
	if err != nil {
		return 0, wrapNomad("scale status "+ns+"/"+job, err)
	}
	tg, ok := st.TaskGroups[group]
	if !ok {
		return 0, fmt.Errorf("job %s/%s has no task group %q", ns, job, group)
	}
	if tg.Healthy > 0 {
		return tg.Healthy, nil
	}
	// Healthy is deployment health: 0 right after a scale, until the new
	// deployment counts allocations healthy. Counting Running instead
	// would call replacements healthy before Nomad does. Only batch jobs,
	// which have no deployments, are judged by Running.
	if jobType == "" {
		j, _, err := n.C.Jobs().Info(job, qo(ctx, ns))
		if err != nil {
			return 0, wrapNomad("job "+ns+"/"+job, err)
		}
		if j.Type != nil {
			jobType = *j.Type
		}
	}
	if jobType == api.JobTypeBatch || jobType == api.JobTypeSysbatch {
		return tg.Running, nil
	}
	return 0, nil
}

// ServerVersion reads the Nomad agent's version from /v1/agent/self (the
// member's build tag, else config.Version.Version). The token needs
// agent:read.
func (n *NomadAPI) ServerVersion(ctx context.Context) (nomadver.Version, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	var self api.AgentSelf
	if _, err := n.C.Raw().Query("/v1/agent/self", &self, qo(ctx, "")); err != nil {
		return nomadver.Version{}, wrapNomad("agent self", err)
	}
	s := self.Member.Tags["build"]
	if s == "" {
		if vm, ok := self.Config["Version"].(map[string]any); ok {
			s, _ = vm["Version"].(string)
		}
	}
	if s == "" {
		return nomadver.Version{}, errors.New("nomad agent self: no version in the answer")
	}
	return nomadver.Parse(s)
}
