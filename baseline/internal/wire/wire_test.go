package wire

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	good := binary.LittleEndian.AppendUint16([]byte{7}, 513)
	good = binary.LittleEndian.AppendUint32(good, 70000)
	good = binary.LittleEndian.AppendUint64(good, math.Float64bits(1.5))
	good = binary.AppendUvarint(good, 300)
	good = append(binary.AppendUvarint(good, 3), "abc"...)

	r := Reader{B: good}
	if b, u16, u32, f, v, s := r.Byte(), r.U16(), r.U32(), r.F64("x"), r.Uvarint(), r.Bytes(3); b != 7 || u16 != 513 ||
		u32 != 70000 || f != 1.5 || v != 300 || string(s) != "abc" || r.Err != nil || len(r.B) != 0 {
		t.Fatalf("read %d %d %d %v %d %q, err %v, %d left", b, u16, u32, f, v, s, r.Err, len(r.B))
	}

	for _, tc := range []struct {
		name string
		in   []byte
		read func(*Reader)
		want string
	}{
		{"short uint32", []byte{1, 2, 3}, func(r *Reader) { r.U32() }, "truncated at uint32"},
		{"short uint64", make([]byte, 7), func(r *Reader) { r.U64() }, "truncated at uint64"},
		{"empty byte", nil, func(r *Reader) { r.Byte() }, "truncated at a byte"},
		{"not finite", binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Inf(1))), func(r *Reader) { r.F64("the mean") }, "the mean is not finite"},
		{"NaN", binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), func(r *Reader) { r.F64("z") }, "z is not finite"},
		{"cut uvarint", []byte{0x80}, func(r *Reader) { r.Uvarint() }, "truncated at uvarint"},
		{"non-minimal uvarint", []byte{0x81, 0x00}, func(r *Reader) { r.Uvarint() }, "non-minimal uvarint"},
		{"over the limit", append([]byte{5}, "hello"...), func(r *Reader) { r.Bytes(4) }, "a 5-byte field"},
		{"longer than the input", append([]byte{5}, "hi"...), func(r *Reader) { r.Bytes(64) }, "a 5-byte field"},
		{"first error kept", []byte{1}, func(r *Reader) { r.U16(); r.Fail("later") }, "truncated at uint16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Reader{B: tc.in}
			tc.read(&r)
			if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", r.Err, tc.want)
			}
			if len(r.B) != 0 || r.Byte() != 0 || r.U64() != 0 || r.Uvarint() != 0 || r.Bytes(10) != nil {
				t.Error("reads after an error return something")
			}
		})
	}
}
