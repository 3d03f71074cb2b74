package status

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"
)

// JSON has no NaN or infinity, and the baseline reports NaN for what it does
// not know yet (the mean of a key without samples). encoding/json would fail
// the whole response on one such value, and 0 would claim a latency that was
// never measured; the methods here write unknown numbers as null and read
// null back as NaN. Field names and every other value are encoded as
// encoding/json does.
//
// The chart history is most of the bytes of /api/v1/status (1,000 keys ×
// 120 points ≈ 9 MB). encoding/json validates the output of every
// json.Marshaler again at each level of nesting, so a per-point Marshaler
// would scan each point three times; instead keys and points are appended
// straight to one buffer (appendSnapshot), and TestJSONMatchesEncodingJSON
// holds that output equal to encoding/json's.

// number is a float64 that is null in JSON when it is not finite.
type number float64

// MarshalJSON implements json.Marshaler.
func (n number) MarshalJSON() ([]byte, error) {
	return appendNumber(nil, float64(n)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = number(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[float64]()}
	}
	*n = number(f)
	return nil
}

// appendNumber appends f as encoding/json formats a float64, or null.
func appendNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	a := math.Abs(f)
	format := byte('f')
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// The *JSON types shadow fields of the exported types; the other fields of
// the embedded alias are encoded unchanged (encoding/json prefers the less
// nested of two fields with the same name).

type snapshotAlias Snapshot

// snapshotJSON leaves the keys out (a nil slice with omitempty); they are
// appended after the other fields.
type snapshotJSON struct {
	*snapshotAlias
	Keys []Key `json:"keys,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	return appendSnapshot(nil, &s)
}

// appendSnapshot appends s as JSON: every field but the keys through
// encoding/json, then the keys. Nil alert and finding lists are written as
// [] (there are none), a nil key list too.
func appendSnapshot(b []byte, s *Snapshot) ([]byte, error) {
	c := *s
	if c.Alerts == nil {
		c.Alerts = []Alert{}
	}
	if c.Findings == nil {
		c.Findings = []Finding{}
	}
	if c.Splits == nil {
		c.Splits = []Split{}
	}
	head, err := json.Marshal(snapshotJSON{snapshotAlias: (*snapshotAlias)(&c)})
	if err != nil {
		return b, err
	}
	b = append(b, head[:len(head)-1]...) // without its closing brace
	b = append(b, `,"keys":[`...)
	for i := range s.Keys {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendKey(b, &s.Keys[i]); err != nil {
			return b, err
		}
	}
	return append(b, "]}"...), nil
}

type keyAlias Key

type keyJSON struct {
	*keyAlias
	Current number `json:"current"`
	Mean    number `json:"mean"`
	Lower   number `json:"lower"`
	Upper   number `json:"upper"`
	P50     number `json:"p50"`
	P95     number `json:"p95"`
	P99     number `json:"p99"`
	Score   number `json:"score"`
	Z       number `json:"z"`
	Ratio   number `json:"ratio"`
	SLO     number `json:"slo,omitempty"`
	// History is appended by appendKey; here it only hides the alias's.
	History []Point `json:"history,omitempty"`
}

func (j *keyJSON) floats(k *Key) []floatField {
	return []floatField{
		{&k.Current, &j.Current}, {&k.Mean, &j.Mean}, {&k.Lower, &j.Lower}, {&k.Upper, &j.Upper},
		{&k.P50, &j.P50}, {&k.P95, &j.P95}, {&k.P99, &j.P99},
		{&k.Score, &j.Score}, {&k.Z, &j.Z}, {&k.Ratio, &j.Ratio}, {&k.SLO, &j.SLO},
	}
}

// appendKey appends k as JSON, its history last.
func appendKey(b []byte, k *Key) ([]byte, error) {
	j := keyJSON{keyAlias: (*keyAlias)(k)}
	copyOut(j.floats(k))
	head, err := json.Marshal(&j)
	if err != nil {
		return b, err
	}
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"history":`...)
	if k.History == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range k.History {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = k.History[i].appendJSON(b); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// MarshalJSON implements json.Marshaler: unknown numbers are null.
func (k Key) MarshalJSON() ([]byte, error) {
	return appendKey(nil, &k)
}

// UnmarshalJSON implements json.Unmarshaler: null numbers are NaN.
func (k *Key) UnmarshalJSON(b []byte) error {
	j := keyJSON{keyAlias: (*keyAlias)(k), History: k.History}
	copyOut(j.floats(k))
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	copyIn(j.floats(k))
	k.History = j.History
	return nil
}

type pointAlias Point

type pointJSON struct {
	*pointAlias
	Value number `json:"v"`
	Lower number `json:"lo"`
	Upper number `json:"hi"`
}

func (j *pointJSON) floats(p *Point) []floatField {
	return []floatField{{&p.Value, &j.Value}, {&p.Lower, &j.Lower}, {&p.Upper, &j.Upper}}
}

// appendJSON appends p as encoding/json would write pointJSON.
func (p *Point) appendJSON(b []byte) ([]byte, error) {
	if y := p.T.Year(); y < 0 || y >= 10000 { // as time.Time.MarshalJSON
		return b, &json.UnsupportedValueError{Str: "point time " + p.T.String() + ": year outside [0,9999]"}
	}
	b = append(b, `{"t":"`...)
	b = p.T.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","v":`...)
	b = appendNumber(b, p.Value)
	b = append(b, `,"lo":`...)
	b = appendNumber(b, p.Lower)
	b = append(b, `,"hi":`...)
	b = appendNumber(b, p.Upper)
	return append(b, '}'), nil
}

// MarshalJSON implements json.Marshaler: unknown numbers are null.
func (p Point) MarshalJSON() ([]byte, error) {
	return p.appendJSON(make([]byte, 0, 72))
}

// UnmarshalJSON implements json.Unmarshaler: null numbers are NaN.
func (p *Point) UnmarshalJSON(b []byte) error {
	j := pointJSON{pointAlias: (*pointAlias)(p)}
	copyOut(j.floats(p))
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	copyIn(j.floats(p))
	return nil
}

type alertAlias Alert

type alertJSON struct {
	*alertAlias
	Current  number `json:"current"`
	Baseline number `json:"baseline"`
	P99      number `json:"p99"`
	Z        number `json:"z"`
	Ratio    number `json:"ratio"`
}

func (j *alertJSON) floats(a *Alert) []floatField {
	return []floatField{{&a.Current, &j.Current}, {&a.Baseline, &j.Baseline}, {&a.P99, &j.P99}, {&a.Z, &j.Z}, {&a.Ratio, &j.Ratio}}
}

// MarshalJSON implements json.Marshaler: unknown numbers are null.
func (a Alert) MarshalJSON() ([]byte, error) {
	j := alertJSON{alertAlias: (*alertAlias)(&a)}
	copyOut(j.floats(&a))
	return json.Marshal(&j)
}

// UnmarshalJSON implements json.Unmarshaler: null numbers are NaN.
func (a *Alert) UnmarshalJSON(b []byte) error {
	j := alertJSON{alertAlias: (*alertAlias)(a)}
	copyOut(j.floats(a))
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	copyIn(j.floats(a))
	return nil
}

type budgetAlias Budget

type budgetJSON struct {
	*budgetAlias
	ClusterQPS number `json:"clusterQPS"`
	AgentQPS   number `json:"agentQPS"`
}

func (j *budgetJSON) floats(b *Budget) []floatField {
	return []floatField{{&b.ClusterQPS, &j.ClusterQPS}, {&b.AgentQPS, &j.AgentQPS}}
}

// MarshalJSON implements json.Marshaler: unknown numbers are null.
func (b Budget) MarshalJSON() ([]byte, error) {
	j := budgetJSON{budgetAlias: (*budgetAlias)(&b)}
	copyOut(j.floats(&b))
	return json.Marshal(&j)
}

// UnmarshalJSON implements json.Unmarshaler: null numbers are NaN.
func (b *Budget) UnmarshalJSON(data []byte) error {
	j := budgetJSON{budgetAlias: (*budgetAlias)(b)}
	copyOut(j.floats(b))
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	copyIn(j.floats(b))
	return nil
}

// floatField pairs a field of an exported type with its shadow.
type floatField struct {
	v *float64
	n *number
}

func copyOut(fs []floatField) {
	for _, f := range fs {
		*f.n = number(*f.v)
	}
}

// copyIn copies decoded values back. A field absent from the input keeps
// the value it had (its shadow was initialised from it).
func copyIn(fs []floatField) {
	for _, f := range fs {
		*f.v = float64(*f.n)
	}
}
