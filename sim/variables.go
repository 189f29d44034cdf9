package sim

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// variable is a Nomad variable and, when it is used as a lock, who holds it.
type variable struct {
	v          api.Variable
	lockID     string
	lockTTL    time.Duration
	lockDelay  time.Duration
	lockExpiry time.Time // wall clock
	delayUntil time.Time // wall clock: no new holder before
}

func varKey(ns, path string) string { return ns + "\x00" + path }

// expire drops a lock whose TTL passed without renewal; the lock delay
// then keeps others out for a while, as Nomad does against split brain.
func (v *variable) expire(now time.Time) {
	if v.lockID != "" && now.After(v.lockExpiry) {
		v.lockID = ""
		v.delayUntil = v.lockExpiry.Add(v.lockDelay)
	}
}

func (v *variable) public(withLockID bool) *api.Variable {
	out := v.v.Copy()
	if v.lockID != "" {
		out.Lock = &api.VariableLock{TTL: v.lockTTL.String(), LockDelay: v.lockDelay.String()}
		if withLockID {
			out.Lock.ID = v.lockID
		}
	} else {
		out.Lock = nil
	}
	return out
}

// varResult is what a variable request answers: a status and a body.
type varResult struct {
	code int
	body any
}

func (f *Fleet) varRead(ns, path string) varResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.vars[varKey(ns, path)]
	if v == nil {
		return varResult{http.StatusNotFound, "variable not found"}
	}
	v.expire(f.wallNow())
	return varResult{http.StatusOK, v.public(false)}
}

func (f *Fleet) varList(ns, prefix string) []*api.VariableMetadata {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []*api.VariableMetadata{}
	for _, k := range slices.Sorted(maps.Keys(f.vars)) {
		v := f.vars[k]
		if (ns != "*" && v.v.Namespace != ns) || !strings.HasPrefix(v.v.Path, prefix) {
			continue
		}
		v.expire(f.wallNow())
		m := v.public(false).Metadata()
		m.Lock = v.public(false).Lock
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].Path < out[k].Path })
	return out
}

// varWrite handles PUT /v1/var/:path with its operations: a plain or
// check-and-set write, lock-acquire, lock-renew and lock-release.
func (f *Fleet) varWrite(ns, path, op string, cas *uint64, in *api.Variable) varResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.wallNow()
	key := varKey(ns, path)
	v := f.vars[key]
	if v != nil {
		v.expire(now)
	}
	conflict := func() varResult {
		if v == nil {
			return varResult{http.StatusConflict, &api.Variable{Namespace: ns, Path: path}}
		}
		return varResult{http.StatusConflict, v.public(false)}
	}
	inLockID := ""
	if in.Lock != nil {
		inLockID = in.Lock.ID
	}
	if !f.cfg.version.hasVariableLocks() {
		// Before Nomad 1.7 there are no locks: the query parameter and
		// the body's Lock are ignored and the write is an ordinary one,
		// so a lock-acquire without Items is refused for want of them.
		op, inLockID = "", ""
	}
	switch op {
	case "lock-acquire":
		if v != nil && (v.lockID != "" || now.Before(v.delayUntil)) {
			return conflict()
		}
		ttl, delay := 15*time.Second, 15*time.Second
		if in.Lock != nil {
			if d, err := time.ParseDuration(in.Lock.TTL); err == nil && d > 0 {
				ttl = d
			} else if in.Lock.TTL != "" {
				return varResult{http.StatusBadRequest, "invalid lock TTL: " + in.Lock.TTL}
			}
			if d, err := time.ParseDuration(in.Lock.LockDelay); err == nil && d >= 0 {
				delay = d
			} else if in.Lock.LockDelay != "" {
				return varResult{http.StatusBadRequest, "invalid lock delay: " + in.Lock.LockDelay}
			}
		}
		if v == nil {
			v = f.newVariable(ns, path, in.Items)
		}
		v.lockID, v.lockTTL, v.lockDelay, v.lockExpiry = f.newID("lock"), ttl, delay, now.Add(ttl)
		v.v.ModifyIndex = f.bump()
		v.v.ModifyTime = f.now.UnixNano()
		return varResult{http.StatusOK, v.public(true)}
	case "lock-renew":
		if v == nil || v.lockID == "" || v.lockID != inLockID {
			return conflict()
		}
		v.lockExpiry = now.Add(v.lockTTL)
		m := v.public(true).Metadata()
		m.Lock = v.public(true).Lock
		return varResult{http.StatusOK, m}
	case "lock-release":
		if v == nil || v.lockID == "" || v.lockID != inLockID {
			return conflict()
		}
		v.lockID = ""
		v.v.ModifyIndex = f.bump()
		return varResult{http.StatusOK, v.public(false)}
	case "":
	default:
		return varResult{http.StatusBadRequest, "invalid variable operation: " + op}
	}
	if cas != nil {
		cur := uint64(0)
		if v != nil {
			cur = v.v.ModifyIndex
		}
		if cur != *cas {
			return conflict()
		}
	}
	if v != nil && v.lockID != "" && v.lockID != inLockID {
		return conflict()
	}
	if len(in.Items) == 0 {
		return varResult{http.StatusBadRequest, "variable missing required Items object"}
	}
	if v == nil {
		v = f.newVariable(ns, path, in.Items)
	} else {
		v.v.Items = copyMap(in.Items)
		v.v.ModifyIndex = f.bump()
		v.v.ModifyTime = f.now.UnixNano()
	}
	return varResult{http.StatusOK, v.public(inLockID != "")}
}

func (f *Fleet) newVariable(ns, path string, items map[string]string) *variable {
	idx := f.bump()
	ts := f.now.UnixNano()
	if items == nil {
		items = map[string]string{}
	}
	v := &variable{v: api.Variable{Namespace: ns, Path: path, Items: copyMap(items),
		CreateIndex: idx, ModifyIndex: idx, CreateTime: ts, ModifyTime: ts}}
	f.vars[varKey(ns, path)] = v
	return v
}

func (f *Fleet) varDelete(ns, path string, cas *uint64) varResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := varKey(ns, path)
	v := f.vars[key]
	if v != nil {
		v.expire(f.wallNow())
	}
	if cas != nil {
		cur := uint64(0)
		if v != nil {
			cur = v.v.ModifyIndex
		}
		if cur != *cas {
			if v == nil {
				return varResult{http.StatusConflict, &api.Variable{Namespace: ns, Path: path}}
			}
			return varResult{http.StatusConflict, v.public(false)}
		}
	}
	if v != nil && v.lockID != "" {
		return varResult{http.StatusConflict, v.public(false)}
	}
	delete(f.vars, key)
	f.bump()
	return varResult{http.StatusNoContent, nil}
}
