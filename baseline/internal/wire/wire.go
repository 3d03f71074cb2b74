// Package wire reads the little-endian and varint-prefixed fields that the
// baseline's state codec and the checkpoint manifest are written in (the
// writers are encoding/binary's Append functions).
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Reader decodes fields from B in order, recording the first error in Err.
// After an error every read returns zero and B is empty, so a decoder reads
// on and checks Err once.
type Reader struct {
	B   []byte
	Err error
}

// Fail records what went wrong, unless something already did.
func (r *Reader) Fail(what string) {
	if r.Err == nil {
		r.Err = errors.New(what)
	}
	r.B = nil
}

func (r *Reader) need(n int, what string) bool {
	if r.Err != nil {
		return false
	}
	if len(r.B) < n {
		r.Fail("truncated at " + what)
		return false
	}
	return true
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if !r.need(1, "a byte") {
		return 0
	}
	v := r.B[0]
	r.B = r.B[1:]
	return v
}

// U16 reads a little-endian uint16.
func (r *Reader) U16() uint16 {
	if !r.need(2, "uint16") {
		return 0
	}
	v := binary.LittleEndian.Uint16(r.B)
	r.B = r.B[2:]
	return v
}

// U32 reads a little-endian uint32.
func (r *Reader) U32() uint32 {
	if !r.need(4, "uint32") {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.B)
	r.B = r.B[4:]
	return v
}

// U64 reads a little-endian uint64.
func (r *Reader) U64() uint64 {
	if !r.need(8, "uint64") {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.B)
	r.B = r.B[8:]
	return v
}

// F64 reads a float64 that must be finite; what names it in the error.
func (r *Reader) F64(what string) float64 {
	v := math.Float64frombits(r.U64())
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.Fail(what + " is not finite")
		return 0
	}
	return v
}

// Uvarint reads an unsigned varint in its shortest encoding, so that every
// value has exactly one.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Fail("truncated at uvarint")
		return 0
	}
	if n > 1 && r.B[n-1] == 0 {
		r.Fail("non-minimal uvarint")
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Bytes reads a uvarint length and that many bytes, at most limit; the
// result shares B's memory.
func (r *Reader) Bytes(limit uint64) []byte {
	n := r.Uvarint()
	if r.Err != nil {
		return nil
	}
	if n > limit || n > uint64(len(r.B)) {
		r.Fail(fmt.Sprintf("a %d-byte field", n))
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}
