// Package yamlcfg reads the YAML configuration files of the exporter, the
// actuator and the simulator one way: the YAML tree is first walked along
// the Go type it will be decoded into, so that an unknown field, a value of
// the wrong kind or a bad duration is reported with its field path
// (targets[2].horizons[1]) and what would be valid, which the decoder's own
// errors (a line number and a Go type name) do not say; then it is decoded
// strictly. Durations are prometheus/common's model.Duration everywhere
// (5m, 1h30m, 14d, 500ms).
package yamlcfg

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// ErrEmpty is returned by Decode for a file with no YAML document in it.
var ErrEmpty = errors.New("empty config")

// Errorf returns an error that names the field at path: "path: message".
func Errorf(path, format string, a ...any) error {
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...))
}

// Decode checks b against the type v points to (Check) and decodes it into
// v, which keeps what a field the file leaves out held before (the
// defaults). A file without a document gives ErrEmpty.
func Decode(b []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return err
	}
	if root.Kind == 0 {
		return ErrEmpty
	}
	if err := Check(&root, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		return err
	}
	return nil
}

var (
	durationType   = reflect.TypeFor[model.Duration]()
	unmarshalerV3  = reflect.TypeFor[yaml.Unmarshaler]()
	unmarshalerV2  = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	textUnmarshal  = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType       = reflect.TypeFor[time.Time]()
	durationFormat = "a number and a unit (ms, s, m, h, d, w, y), e.g. 30s, 5m, 1h30m or 14d"
)

// Check walks the YAML tree n along the Go type t. Structs are walked by
// their yaml tags; a type that reads itself (a YAML or text unmarshaler,
// such as prometheus/common's HTTPClientConfig or time.Time) is left to
// its own decoding, except model.Duration, whose errors name the field.
func Check(n *yaml.Node, t reflect.Type) error {
	return check(n, t, "")
}

func check(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			if err := check(c, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind == yaml.AliasNode || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return nil
	}
	switch {
	case t == durationType:
		return checkDuration(n, path)
	case readsItself(t):
		return checkSelfReading(n, t, path)
	case t.Kind() == reflect.Struct:
		return checkStruct(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return errorAt(path, "line %d: want a list", n.Line)
		}
		for i, c := range n.Content {
			if err := check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return errorAt(path, "line %d: want a mapping", n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	default:
		return checkScalar(n, t, path)
	}
	return nil
}

func readsItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerV3) || p.Implements(unmarshalerV2) || p.Implements(textUnmarshal)
}

// checkSelfReading decodes n into a value of a type that reads itself, so
// that its own error (prometheus/common's HTTP client config validates
// itself as it is read) comes with the field's path.
func checkSelfReading(n *yaml.Node, t reflect.Type, path string) error {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	if t == timeType {
		return errorAt(path, "line %d: %q is not a time; want RFC 3339, e.g. 2026-12-24T17:00:00Z", n.Line, n.Value)
	}
	return errorAt(path, "line %d: %s", n.Line, strings.TrimPrefix(err.Error(), "yaml: "))
}

func checkStruct(n *yaml.Node, t reflect.Type, path string) error {
	fields, names := structFields(t)
	if n.Kind != yaml.MappingNode {
		return errorAt(path, "line %d: want a mapping of fields (%s)", n.Line, strings.Join(names, ", "))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if n.Content[i].ShortTag() == "!!merge" {
			// A merge key (<<: *defaults) brings fields of this same
			// struct; an alias was checked where its anchor is.
			if err := check(n.Content[i+1], t, path); err != nil {
				return err
			}
			continue
		}
		p := join(path, k)
		ft, ok := fields[k]
		if !ok {
			return errorAt(p, "line %d: unknown field; valid are %s", n.Content[i].Line, strings.Join(names, ", "))
		}
		if err := check(n.Content[i+1], ft, p); err != nil {
			return err
		}
	}
	return nil
}

// structFields are the YAML names of t's fields, as yaml.v3 reads them
// (the tag's name, else the lower-cased Go name; inline structs flattened).
func structFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			fs, ns := structFields(f.Type)
			for _, n := range ns {
				fields[n] = fs[n]
			}
			names = append(names, ns...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// checkScalar decodes a scalar into a value of t, so that `count: many`
// names count and says an integer is wanted.
func checkScalar(n *yaml.Node, t reflect.Type, path string) error {
	what := map[reflect.Kind]string{reflect.Bool: "true or false", reflect.String: "a string",
		reflect.Float32: "a number", reflect.Float64: "a number"}[t.Kind()]
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		what = "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		what = "an integer >= 0"
	}
	if what == "" {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return errorAt(path, "line %d: want %s", n.Line, what)
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return errorAt(path, "line %d: %q is not valid; want %s", n.Line, n.Value, what)
	}
	return nil
}

func checkDuration(n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode {
		return errorAt(path, "line %d: want a duration: %s", n.Line, durationFormat)
	}
	if _, err := ParseDuration(n.Value); err != nil {
		return errorAt(path, "line %d: %v", n.Line, err)
	}
	return nil
}

// ParseDuration reads a duration as model.Duration does (500ms, 1h30m,
// 14d), for command-line flags that take the same durations as the config
// files. Its error says what is valid and, for a form Go's
// time.ParseDuration reads (1.5h, 100us, -5m), which the actuator's and the
// simulator's own duration types accepted before model.Duration replaced
// them, what to write instead.
func ParseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err == nil {
		return time.Duration(d), nil
	}
	if d, ok := oldForm(s); ok {
		switch {
		case d < 0:
			return 0, fmt.Errorf("%q is negative; want a duration >= 0: %s", s, durationFormat)
		case d%time.Millisecond == 0:
			return 0, fmt.Errorf("%q is not a valid duration (no fractions or spaces); write %s. Valid: %s", s, model.Duration(d), durationFormat)
		default:
			return 0, fmt.Errorf("%q is not a valid duration (the smallest unit is ms); valid: %s", s, durationFormat)
		}
	}
	return 0, fmt.Errorf("%q is not a valid duration; want %s", s, durationFormat)
}

// oldForm reads what time.ParseDuration reads, and the simulator's
// fractional days and weeks (1.5d).
func oldForm(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return time.Duration(f * float64(unit)), true
			}
		}
	}
	return 0, false
}

func errorAt(path, format string, a ...any) error {
	if path == "" {
		return fmt.Errorf(format, a...)
	}
	return Errorf(path, format, a...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Or returns d, or def when d is zero: a field left out means its default.
func Or(d model.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
