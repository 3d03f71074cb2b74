package status

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
)

// JSON has no NaN or infinity, and the baseline reports NaN for what it does
// not know yet (the mean of a key without samples). encoding/json would fail
// the whole response on one such value, and 0 would claim a latency that was
// never measured; these methods write unknown numbers as null and read null
// back as NaN. Field names and every other value are encoded as usual.

// number is a float64 that is null in JSON when it is not finite.
type number float64

// MarshalJSON implements json.Marshaler.
func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
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

// The *JSON types shadow the float fields of the exported types; fields of
// the embedded alias are encoded unchanged (encoding/json prefers the less
// nested field of the same name).

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
}

func (j *keyJSON) floats(k *Key) []floatField {
	return []floatField{
		{&k.Current, &j.Current}, {&k.Mean, &j.Mean}, {&k.Lower, &j.Lower}, {&k.Upper, &j.Upper},
		{&k.P50, &j.P50}, {&k.P95, &j.P95}, {&k.P99, &j.P99},
		{&k.Score, &j.Score}, {&k.Z, &j.Z}, {&k.Ratio, &j.Ratio}, {&k.SLO, &j.SLO},
	}
}

// MarshalJSON implements json.Marshaler: unknown numbers are null.
func (k Key) MarshalJSON() ([]byte, error) {
	j := keyJSON{keyAlias: (*keyAlias)(&k)}
	copyOut(j.floats(&k))
	return json.Marshal(&j)
}

// UnmarshalJSON implements json.Unmarshaler: null numbers are NaN.
func (k *Key) UnmarshalJSON(b []byte) error {
	j := keyJSON{keyAlias: (*keyAlias)(k)}
	copyOut(j.floats(k))
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	copyIn(j.floats(k))
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

// MarshalJSON implements json.Marshaler: unknown numbers are null.
func (p Point) MarshalJSON() ([]byte, error) {
	j := pointJSON{pointAlias: (*pointAlias)(&p)}
	copyOut(j.floats(&p))
	return json.Marshal(&j)
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
