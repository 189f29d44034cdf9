package actuator

import (
	"context"
	"strings"
	"sync"

	"github.com/hashicorp/nomad/api"
)

// StateStore keeps the little state that must outlive the process and be
// shared by replicas: when a node pool last changed, which node waits for
// its eligibility back, which alert an action answered, recent escalations.
// NomadAPI keeps it in Nomad variables; MemState in memory.
type StateStore interface {
	// Get returns the items under key, or nil if there are none.
	Get(ctx context.Context, key string) (map[string]string, error)
	Put(ctx context.Context, key string, items map[string]string) error
	// List returns every key under prefix with its items.
	List(ctx context.Context, prefix string) (map[string]map[string]string, error)
}

// StatePrefix is where the actuator's state lives among Nomad variables
// (the ACL policy in examples/ grants fleetcast/actuator/*).
const StatePrefix = "fleetcast/actuator/state/"

// varPath turns a state key into a valid Nomad variable path: Nomad allows
// letters, digits and -_~/ only.
func varPath(key string) string {
	var b strings.Builder
	b.WriteString(StatePrefix)
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '~', r == '/':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Get reads a state variable.
func (n *NomadAPI) Get(ctx context.Context, key string) (map[string]string, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	v, _, err := n.C.Variables().Peek(varPath(key), qo(ctx, "default"))
	if err != nil {
		return nil, wrapNomad("read variable "+varPath(key), err)
	}
	if v == nil {
		return nil, nil
	}
	return v.Items, nil
}

// Put writes a state variable.
func (n *NomadAPI) Put(ctx context.Context, key string, items map[string]string) error {
	ctx, cancel := n.call(ctx)
	defer cancel()
	_, _, err := n.C.Variables().Update(&api.Variable{Namespace: "default", Path: varPath(key), Items: items}, wo(ctx, "default"))
	return wrapNomad("write variable "+varPath(key), err)
}

// List reads every state variable under prefix.
func (n *NomadAPI) List(ctx context.Context, prefix string) (map[string]map[string]string, error) {
	ctx, cancel := n.call(ctx)
	defer cancel()
	metas, _, err := n.C.Variables().PrefixList(varPath(prefix), qo(ctx, "default"))
	if err != nil {
		return nil, wrapNomad("list variables "+varPath(prefix), err)
	}
	out := make(map[string]map[string]string, len(metas))
	for _, m := range metas {
		v, _, err := n.C.Variables().Peek(m.Path, qo(ctx, "default"))
		if err != nil {
			return nil, wrapNomad("read variable "+m.Path, err)
		}
		if v != nil {
			out[strings.TrimPrefix(m.Path, StatePrefix)] = v.Items
		}
	}
	return out, nil
}

// MemState is a StateStore in memory: for tests, dry runs and single
// replicas that may forget on restart.
type MemState struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

// NewMemState returns an empty MemState.
func NewMemState() *MemState { return &MemState{m: map[string]map[string]string{}} }

func copyItems(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Get returns a copy of the items under key.
func (s *MemState) Get(_ context.Context, key string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyItems(s.m[key]), nil
}

// Put stores a copy of items.
func (s *MemState) Put(_ context.Context, key string, items map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = copyItems(items)
	return nil
}

// List returns copies of every key under prefix.
func (s *MemState) List(_ context.Context, prefix string) (map[string]map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]string{}
	for k, v := range s.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = copyItems(v)
		}
	}
	return out, nil
}
