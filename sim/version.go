package sim

import (
	"fmt"
	"strings"

	"github.com/fleetcast/fleetcast/internal/nomadver"
)

// DefaultNomadVersion is the Nomad version the simulator claims unless the
// fleet file sets nomad_version: the version fleetcast was compared against
// on a real cluster (issue 15), so that the default behaves as that cluster did.
const DefaultNomadVersion = "1.6.0"

// nomadVersion is the release the simulator claims: the parsed version
// (internal/nomadver, which the actuator reads servers with too) and the
// text as configured, e.g. "1.6.0" or "1.8.2+ent".
type nomadVersion struct {
	nomadver.Version
	text string
}

// parseNomadVersion reads "1.6.0", "v1.7.7", "1.8.2+ent" or "1.9.0-beta.1";
// unlike a server's answer, a configured version must name all three parts.
func parseNomadVersion(s string) (nomadVersion, error) {
	text := strings.TrimPrefix(strings.TrimSpace(s), "v")
	core, _, _ := strings.Cut(strings.SplitN(text, "+", 2)[0], "-")
	v, err := nomadver.Parse(text)
	if err != nil || strings.Count(core, ".") != 2 {
		return nomadVersion{}, fmt.Errorf("%q is not a Nomad version; want major.minor.patch such as 1.6.0 or 1.8.2", s)
	}
	return nomadVersion{Version: v, text: text}, nil
}

// The behaviours that depend on the claimed version, with the release that
// introduced each (from Nomad's changelog; see sim/README.md).

// hasVariableLocks: variable locks (?lock-acquire, -renew, -release) came
// with Nomad 1.7.0. Before, the query parameter is ignored and the write is
// an ordinary one, refused without Items.
func (v nomadVersion) hasVariableLocks() bool { return v.AtLeast(nomadver.VariableLocks) }

// enforcesScaleIndex: the scale endpoint checks a request's JobModifyIndex
// from Nomad 1.8.2 (hashicorp/nomad#23457, backported to 1.8.x only);
// earlier versions apply a scale with a stale index.
func (v nomadVersion) enforcesScaleIndex() bool { return v.AtLeast(nomadver.ScaleIndexGuard) }

// hasNodeMaxAllocs: Node.NodeMaxAllocs and Node.GCVolumesOnNodeGC came
// with Nomad 1.10.2 (client node_max_allocs and gc_volumes_on_node_gc).
func (v nomadVersion) hasNodeMaxAllocs() bool {
	return v.AtLeast(nomadver.Version{Major: 1, Minor: 10, Patch: 2})
}
