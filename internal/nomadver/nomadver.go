// Package nomadver parses Nomad version strings ("1.6.0", "1.8.2+ent",
// "1.7.0-beta.1") and says which features of the HTTP API a version has.
// The actuator checks the server it talks to; the simulator behaves as the
// version it claims.
package nomadver

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Nomad release, major.minor.patch.
type Version struct{ Major, Minor, Patch int }

// Parse reads "1.6.0", "v1.8.2+ent", "1.7.0-beta.1" (suffixes are ignored).
func Parse(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+ "); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("nomad version %q: want major.minor.patch, e.g. 1.8.4", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("nomad version %q: want major.minor.patch, e.g. 1.8.4", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast says whether v is o or later.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

// The first releases with the features fleetcast relies on.
var (
	// VariableLocks: PUT /v1/var/:path?lock-acquire (leader election).
	// Earlier servers answer 400 "variable missing required Items object".
	VariableLocks = Version{1, 7, 0}
	// ScaleIndexGuard: the job scale endpoint honours the request's
	// JobModifyIndex (hashicorp/nomad#23457, backported to 1.8.x). Earlier
	// servers ignore the field and apply the scale.
	ScaleIndexGuard = Version{1, 8, 2}
)
