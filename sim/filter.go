package sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// This file reads the subset of Nomad's filter expressions (the `filter`
// query parameter, go-bexpr syntax) that list endpoints are asked with:
//
//	NodePool == "default" and SchedulingEligibility == "eligible"
//	Status != "down" or not (Drain == true)
//	"gpu" in NodeClass, Name contains "web", Name matches "^web-[0-9]+$"
//	Meta["zone"] == "a", Attributes.kernel.name == "linux", Meta is empty
//
// Selectors name the fields of the JSON object listed (dotted or with
// ["key"] for map keys). What it does not read is refused with a 400 that
// says so, rather than guessed at.

// filterExpr is a parsed filter: it says whether a listed object matches.
type filterExpr func(obj map[string]any) (bool, error)

// parseFilter parses a filter expression.
func parseFilter(src string) (filterExpr, error) {
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at the end", p.toks[p.pos].text)
	}
	return e, nil
}

type filterToken struct {
	kind byte // 's' string literal, 'w' word, 'o' operator or bracket
	text string
}

func lexFilter(src string) ([]filterToken, error) {
	var out []filterToken
	r := []rune(src)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"' || c == '`':
			j := i + 1
			var sb strings.Builder
			for ; j < len(r) && r[j] != c; j++ {
				if c == '"' && r[j] == '\\' && j+1 < len(r) {
					j++
				}
				sb.WriteRune(r[j])
			}
			if j >= len(r) {
				return nil, fmt.Errorf("unterminated string starting at %d", i)
			}
			out = append(out, filterToken{'s', sb.String()})
			i = j + 1
		case c == '=' || c == '!':
			if i+1 < len(r) && r[i+1] == '=' {
				out = append(out, filterToken{'o', string(r[i : i+2])})
				i += 2
				continue
			}
			return nil, fmt.Errorf("unexpected %q at %d (want == or !=)", string(c), i)
		case c == '(' || c == ')' || c == '[' || c == ']' || c == '.':
			out = append(out, filterToken{'o', string(c)})
			i++
		case unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-':
			j := i
			for j < len(r) && (unicode.IsLetter(r[j]) || unicode.IsDigit(r[j]) || r[j] == '_' || r[j] == '-') {
				j++
			}
			out = append(out, filterToken{'w', string(r[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", string(c), i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	return out, nil
}

type filterParser struct {
	toks []filterToken
	pos  int
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return filterToken{}, false
}

func (p *filterParser) isWord(w string) bool {
	t, ok := p.peek()
	return ok && t.kind == 'w' && t.text == w
}

func (p *filterParser) isOp(o string) bool {
	t, ok := p.peek()
	return ok && t.kind == 'o' && t.text == o
}

func (p *filterParser) or() (filterExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(o map[string]any) (bool, error) {
			if ok, err := a(o); err != nil || ok {
				return ok, err
			}
			return b(o)
		}
	}
	return l, nil
}

func (p *filterParser) and() (filterExpr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.pos++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(o map[string]any) (bool, error) {
			if ok, err := a(o); err != nil || !ok {
				return false, err
			}
			return b(o)
		}
	}
	return l, nil
}

func (p *filterParser) not() (filterExpr, error) {
	if p.isWord("not") {
		p.pos++
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(o map[string]any) (bool, error) {
			ok, err := e(o)
			return !ok, err
		}, nil
	}
	if p.isOp("(") {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.isOp(")") {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return e, nil
	}
	return p.comparison()
}

// comparison: selector (==|!=) value, selector [not] (contains|matches)
// value, selector is [not] empty, value [not] in selector.
func (p *filterParser) comparison() (filterExpr, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("expression ends where a comparison was expected")
	}
	if t.kind == 's' || (t.kind == 'w' && isLiteralWord(t.text)) {
		p.pos++
		neg := false
		if p.isWord("not") {
			neg = true
			p.pos++
		}
		if !p.isWord("in") {
			return nil, fmt.Errorf("after the value %q: want in or not in", t.text)
		}
		p.pos++
		sel, err := p.selector()
		if err != nil {
			return nil, err
		}
		val := t.text
		return func(o map[string]any) (bool, error) {
			v, err := sel.get(o)
			if err != nil {
				return false, err
			}
			return contains(v, val) != neg, nil
		}, nil
	}
	sel, err := p.selector()
	if err != nil {
		return nil, err
	}
	op, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("selector %s without an operator (==, !=, contains, matches, is empty)", sel)
	}
	p.pos++
	neg := false
	if op.kind == 'w' && op.text == "not" {
		neg = true
		op, ok = p.peek()
		if !ok {
			return nil, fmt.Errorf("expression ends after %s not", sel)
		}
		p.pos++
	}
	if op.kind == 'w' && op.text == "is" {
		if p.isWord("not") {
			neg = !neg
			p.pos++
		}
		if !p.isWord("empty") {
			return nil, fmt.Errorf("after %s is: want empty or not empty", sel)
		}
		p.pos++
		return func(o map[string]any) (bool, error) {
			v, err := sel.get(o)
			if err != nil {
				return false, err
			}
			return isEmpty(v) != neg, nil
		}, nil
	}
	val, ok := p.peek()
	if !ok || (val.kind != 's' && !(val.kind == 'w' && isLiteralWord(val.text))) {
		return nil, fmt.Errorf("after %s %s: want a value (a quoted string, a number, true or false)", sel, op.text)
	}
	p.pos++
	switch {
	case op.kind == 'o' && (op.text == "==" || op.text == "!=") && !neg:
		want := op.text == "=="
		return func(o map[string]any) (bool, error) {
			v, err := sel.get(o)
			if err != nil {
				return false, err
			}
			return (scalarString(v) == val.text) == want, nil
		}, nil
	case op.kind == 'w' && op.text == "contains":
		return func(o map[string]any) (bool, error) {
			v, err := sel.get(o)
			if err != nil {
				return false, err
			}
			return contains(v, val.text) != neg, nil
		}, nil
	case op.kind == 'w' && op.text == "matches":
		re, err := regexp.Compile(val.text)
		if err != nil {
			return nil, fmt.Errorf("matches %q: %v", val.text, err)
		}
		return func(o map[string]any) (bool, error) {
			v, err := sel.get(o)
			if err != nil {
				return false, err
			}
			return re.MatchString(scalarString(v)) != neg, nil
		}, nil
	}
	return nil, fmt.Errorf("operator %q after %s is not supported by the simulator (it reads ==, !=, in, not in, contains, not contains, matches, not matches, is empty, is not empty, and, or, not, parentheses)", op.text, sel)
}

func isLiteralWord(w string) bool {
	if w == "true" || w == "false" {
		return true
	}
	_, err := strconv.ParseFloat(w, 64)
	return err == nil
}

// filterSelector is a path into the object: field names and map keys.
type filterSelector []string

func (s filterSelector) String() string { return strings.Join(s, ".") }

func (p *filterParser) selector() (filterSelector, error) {
	t, ok := p.peek()
	if !ok || t.kind != 'w' || isLiteralWord(t.text) {
		return nil, fmt.Errorf("want a selector (a field name such as NodePool) at token %d", p.pos+1)
	}
	p.pos++
	sel := filterSelector{t.text}
	for {
		switch {
		case p.isOp("."):
			p.pos++
			n, ok := p.peek()
			if !ok || n.kind != 'w' {
				return nil, fmt.Errorf("selector %s. without a name after the dot", sel)
			}
			p.pos++
			sel = append(sel, n.text)
		case p.isOp("["):
			p.pos++
			k, ok := p.peek()
			if !ok || k.kind != 's' {
				return nil, fmt.Errorf(`selector %s[: want a quoted key such as ["zone"]`, sel)
			}
			p.pos++
			if !p.isOp("]") {
				return nil, fmt.Errorf("selector %s[%q: missing ]", sel, k.text)
			}
			p.pos++
			sel = append(sel, k.text)
		default:
			return sel, nil
		}
	}
}

// get walks the object. A missing map key is nil (bexpr treats a missing
// key of a map as empty); a missing field of the object is an error, as in
// Nomad, which knows its struct's fields. Dotted map keys (Attributes
// have them) are joined greedily.
func (s filterSelector) get(obj map[string]any) (any, error) {
	v, ok := obj[s[0]]
	if !ok {
		return nil, fmt.Errorf("selector %s: the listed objects have no field %q", s, s[0])
	}
	rest := s[1:]
	for len(rest) > 0 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, nil
		}
		found := false
		for n := len(rest); n >= 1; n-- {
			if x, ok := m[strings.Join(rest[:n], ".")]; ok {
				v, rest, found = x, rest[n:], true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	return v, nil
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// contains: a string contains a substring, a list an element, a map a key.
func contains(v any, s string) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, s)
	case []any:
		for _, e := range x {
			if scalarString(e) == s {
				return true
			}
		}
	case map[string]any:
		_, ok := x[s]
		return ok
	}
	return false
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
