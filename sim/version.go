package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultNomadVersion is the Nomad version the simulator claims unless the
// fleet file sets nomad_version: the version fleetcast was compared against
// on a real cluster (issue 15), so that the default behaves as that cluster did.
const DefaultNomadVersion = "1.6.0"

// nomadVersion is a Nomad release, major.minor.patch with an optional
// pre-release ("-beta.1") and metadata ("+ent") that comparisons ignore.
type nomadVersion struct {
	major, minor, patch int
	text                string // as configured, e.g. "1.6.0" or "1.8.2+ent"
}

// parseNomadVersion reads "1.6.0", "v1.7.7", "1.8.2+ent" or "1.9.0-beta.1".
func parseNomadVersion(s string) (nomadVersion, error) {
	text := strings.TrimPrefix(strings.TrimSpace(s), "v")
	core := text
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return nomadVersion{}, fmt.Errorf("%q is not a Nomad version; want major.minor.patch such as 1.6.0 or 1.8.2", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nomadVersion{}, fmt.Errorf("%q is not a Nomad version; want major.minor.patch such as 1.6.0 or 1.8.2", s)
		}
		n[i] = v
	}
	return nomadVersion{major: n[0], minor: n[1], patch: n[2], text: text}, nil
}

// atLeast says whether v is major.minor.patch or later.
func (v nomadVersion) atLeast(major, minor, patch int) bool {
	if v.major != major {
		return v.major > major
	}
	if v.minor != minor {
		return v.minor > minor
	}
	return v.patch >= patch
}

// String is the version without pre-release or metadata, as Nomad prints
// it in node attributes and node lists.
func (v nomadVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}

// The behaviours that depend on the claimed version, with the release that
// introduced each (from Nomad's changelog; see sim/README.md).

// hasVariableLocks: variable locks (?lock-acquire, -renew, -release) came
// with Nomad 1.7.0. Before, the query parameter is ignored and the write is
// an ordinary one, refused without Items.
func (v nomadVersion) hasVariableLocks() bool { return v.atLeast(1, 7, 0) }

// enforcesScaleIndex: the scale endpoint checks a request's JobModifyIndex
// from Nomad 1.8.2 (hashicorp/nomad#23457, backported to 1.8.x only);
// earlier versions apply a scale with a stale index.
func (v nomadVersion) enforcesScaleIndex() bool { return v.atLeast(1, 8, 2) }

// hasNodeMaxAllocs: Node.NodeMaxAllocs and Node.GCVolumesOnNodeGC came
// with Nomad 1.10.2 (client node_max_allocs and gc_volumes_on_node_gc).
func (v nomadVersion) hasNodeMaxAllocs() bool { return v.atLeast(1, 10, 2) }
