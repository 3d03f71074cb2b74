package baseline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/kubepulse/kubepulse/baseline/internal/wire"
	"github.com/kubepulse/kubepulse/baseline/window"
)

// stateVersion is the version of the per-key state encoding; a checkpoint
// with another version is not read (see Restore).
// Version 2 added the CUSUM, the long-horizon level, the daily profile and
// the spike statistics; version 3 the exceedance chart.
const stateVersion = 3

// checkpointKind names baseline checkpoints.
const checkpointKind = "kubepulse/baseline"

// appendEntry encodes one key and its detector. Floats are stored as their
// IEEE-754 bits, so a restore is exact; window counts are stored sparsely.
func appendEntry(b []byte, key string, d *Detector) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return d.appendState(b)
}

func (d *Detector) appendState(b []byte) []byte {
	le := binary.LittleEndian
	f := func(v float64) { b = le.AppendUint64(b, math.Float64bits(v)) }
	f(d.slo)
	b = le.AppendUint64(b, d.n)
	b = le.AppendUint32(b, d.nLearn)
	b = le.AppendUint64(b, uint64(d.last))
	f(d.spacing.Typical)
	b = le.AppendUint32(b, d.spacing.N)
	var flags byte
	if d.learned {
		flags |= 1
	}
	if d.armed {
		flags |= 2
	}
	if d.stale {
		flags |= 4
	}
	x := &d.ex
	if x.ready {
		flags |= 8
	}
	if x.above {
		flags |= 16
	}
	if x.saved {
		flags |= 32
	}
	b = append(b, d.mode, flags, byte(d.state), byte(d.reason), d.scoreKind)
	b = le.AppendUint16(b, d.run)
	b = le.AppendUint16(b, d.quiet)
	for _, v := range [...]float64{d.slow.Mean, d.slow.Var, d.trend, d.dev2, d.fast, d.prev[0], d.prev[1], d.fastV, d.shadow.Mean, d.shadow.Var} {
		f(v)
	}
	b = le.AppendUint32(b, d.shadowN)
	f(d.minPos)
	b = le.AppendUint64(b, uint64(d.episode))
	b = le.AppendUint64(b, uint64(d.since))
	b = le.AppendUint64(b, uint64(d.first))
	b = le.AppendUint64(b, d.nonPos)
	for _, v := range [...]float64{d.cusum, d.rm, d.rv, d.dd2, d.long, d.ldev2} {
		f(v)
	}
	ss := &d.season
	for i := range seasonBins {
		f(ss.v[i])
		f(ss.w[i])
	}
	b = le.AppendUint32(b, uint32(ss.cur))
	b = le.AppendUint32(b, uint32(ss.b0))
	b = le.AppendUint64(b, uint64(ss.from))
	for _, v := range [...]float64{ss.n, ss.sum, ss.keep, ss.at0, ss.rate} {
		f(v)
	}
	c, sc := &d.cw, &d.sc
	for _, v := range [...]float64{d.value, d.z, d.zl, d.zs, d.sv, d.cDt, d.cSp, c.slow, c.fast, c.long, c.season, c.cusum,
		sc.fl, sc.sd, sc.cf, sc.sz, sc.sl, sc.s1, sc.isz, sc.isl, sc.is1} {
		f(v)
	}
	m := &x.snap
	for _, v := range [...]float64{x.s, x.lo, x.hi, x.inc[0], x.inc[1], x.inc[2], x.counts[0], x.counts[1], x.counts[2], x.starts, x.unit, x.down, x.span,
		m.slow.Mean, m.slow.Var, m.trend, m.dev2, m.rv, m.dd2, m.long, m.ldev2, m.counts[0], m.counts[1], m.counts[2], m.starts} {
		f(v)
	}
	b = le.AppendUint64(b, x.decayed)
	b = le.AppendUint64(b, m.decayed)
	return appendWindow(b, d.win)
}

func appendWindow(b []byte, w *window.Window) []byte {
	le := binary.LittleEndian
	s := w.State()
	buckets, bins := w.Layout()
	b = binary.AppendUvarint(b, uint64(buckets))
	b = binary.AppendUvarint(b, uint64(bins))
	b = le.AppendUint64(b, math.Float64bits(w.InitialWidth()))
	b = le.AppendUint64(b, uint64(s.Head))
	b = binary.AppendUvarint(b, uint64(s.Cur))
	b = le.AppendUint64(b, math.Float64bits(s.Offset))
	b = le.AppendUint64(b, math.Float64bits(s.Width))
	for r := range buckets {
		row := s.Counts[r*bins : (r+1)*bins]
		nnz := 0
		for _, c := range row {
			if c != 0 {
				nnz++
			}
		}
		b = binary.AppendUvarint(b, uint64(nnz))
		last := -1
		for i, c := range row {
			if c != 0 {
				b = binary.AppendUvarint(b, uint64(i-last-1))
				b = binary.AppendUvarint(b, uint64(c))
				last = i
			}
		}
	}
	return b
}

// errWindowLayout reports a checkpointed window made for another layout; the
// rest of the state is still usable.
var errWindowLayout = errors.New("window layout differs from the configuration")

// decodeEntry decodes an entry made by appendEntry into a new detector with
// parameters p. A window saved with a different layout is dropped (the
// detector keeps everything else) and reported with errWindowLayout. It
// never panics, whatever the input.
func decodeEntry(b []byte, p *params) (key string, d *Detector, err error) {
	key, d, err = decodeEntryFields(b, p)
	if err != nil && !errors.Is(err, errWindowLayout) {
		return "", nil, fmt.Errorf("invalid state: %w", err)
	}
	return key, d, err
}

func decodeEntryFields(b []byte, p *params) (key string, d *Detector, err error) {
	r := wire.Reader{B: b}
	kb := r.Bytes(64 << 10)
	if r.Err != nil {
		return "", nil, r.Err
	}
	key = string(kb)
	d = newDetector(p, 0)
	werr := d.decodeState(&r)
	if r.Err != nil {
		return "", nil, r.Err
	}
	if len(r.B) != 0 {
		return "", nil, fmt.Errorf("%d trailing bytes", len(r.B))
	}
	if werr != nil && !errors.Is(werr, errWindowLayout) {
		return "", nil, werr
	}
	return key, d, werr
}

func (d *Detector) decodeState(r *wire.Reader) error {
	d.slo = r.F64("slo")
	d.n = r.U64()
	d.nLearn = r.U32()
	d.last = int64(r.U64())
	d.spacing.Typical = r.F64("spacing")
	d.spacing.N = r.U32()
	mode, flags, state, reason, kind := r.Byte(), r.Byte(), r.Byte(), r.Byte(), r.Byte()
	d.run = r.U16()
	d.quiet = r.U16()
	for _, v := range [...]*float64{&d.slow.Mean, &d.slow.Var, &d.trend, &d.dev2, &d.fast, &d.prev[0], &d.prev[1], &d.fastV, &d.shadow.Mean, &d.shadow.Var} {
		*v = r.F64("baseline")
	}
	d.shadowN = r.U32()
	d.minPos = r.F64("minPos")
	d.episode = int64(r.U64())
	d.since = int64(r.U64())
	d.first = int64(r.U64())
	d.nonPos = r.U64()
	for _, v := range [...]*float64{&d.cusum, &d.rm, &d.rv, &d.dd2, &d.long, &d.ldev2} {
		*v = r.F64("charts")
	}
	ss := &d.season
	for i := range seasonBins {
		ss.v[i] = r.F64("daily profile")
		ss.w[i] = r.F64("daily profile weight")
	}
	ss.cur = int32(r.U32())
	ss.b0 = int32(r.U32())
	ss.from = int64(r.U64())
	for _, v := range [...]*float64{&ss.n, &ss.sum, &ss.keep, &ss.at0, &ss.rate} {
		*v = r.F64("daily profile")
	}
	c, sc := &d.cw, &d.sc
	for _, v := range [...]*float64{&d.value, &d.z, &d.zl, &d.zs, &d.sv, &d.cDt, &d.cSp, &c.slow, &c.fast, &c.long, &c.season, &c.cusum,
		&sc.fl, &sc.sd, &sc.cf, &sc.sz, &sc.sl, &sc.s1, &sc.isz, &sc.isl, &sc.is1} {
		*v = r.F64("status")
	}
	x, m := &d.ex, &d.ex.snap
	for _, v := range [...]*float64{&x.s, &x.lo, &x.hi, &x.inc[0], &x.inc[1], &x.inc[2], &x.counts[0], &x.counts[1], &x.counts[2], &x.starts, &x.unit, &x.down, &x.span,
		&m.slow.Mean, &m.slow.Var, &m.trend, &m.dev2, &m.rv, &m.dd2, &m.long, &m.ldev2, &m.counts[0], &m.counts[1], &m.counts[2], &m.starts} {
		*v = r.F64("exceedance chart")
	}
	x.decayed, m.decayed = r.U64(), r.U64()
	if r.Err != nil {
		return r.Err
	}
	switch {
	case mode > modeLinear:
		r.Fail(fmt.Sprintf("transform mode %d", mode))
	case flags&^63 != 0:
		r.Fail(fmt.Sprintf("flags %#x", flags))
	case kind > scoreDrift:
		r.Fail(fmt.Sprintf("score kind %d", kind))
	case State(state) < StateNormal || State(state) > StateFiring:
		r.Fail(fmt.Sprintf("state %d", state))
	case Reason(reason) > ReasonSLO:
		r.Fail(fmt.Sprintf("reason %d", reason))
	case d.slo < 0 || d.slow.Var < 0 || d.dev2 < 0 || d.fastV < 0 || d.shadow.Var < 0 || d.spacing.Typical < 0 || d.minPos < 0 ||
		d.cusum < 0 || d.rv < 0 || d.dd2 < 0 || d.ldev2 < 0:
		r.Fail("a negative variance, statistic, spacing or SLO")
	case d.nonPos > d.n:
		r.Fail(fmt.Sprintf("last non-positive sample %d of %d", d.nonPos, d.n))
	case d.ex.decayed > d.n || d.ex.snap.decayed > d.n:
		r.Fail(fmt.Sprintf("exceedance counts decayed to sample %d of %d", d.ex.decayed, d.n))
	}
	for _, w := range d.season.w {
		if w < 0 {
			r.Fail("a negative daily profile weight")
		}
	}
	if x.s < 0 || x.starts < 0 || x.span < 0 || x.unit < 0 || x.unit > 1 || x.down > 0 || m.slow.Var < 0 || m.dev2 < 0 || m.rv < 0 || m.dd2 < 0 || m.ldev2 < 0 || m.starts < 0 ||
		x.counts[0] < 0 || x.counts[1] < 0 || x.counts[2] < 0 || m.counts[0] < 0 || m.counts[1] < 0 || m.counts[2] < 0 {
		r.Fail("a negative exceedance chart statistic")
	}
	if ss := &d.season; ss.cur < -1 || ss.cur >= seasonBins || ss.b0 < 0 || ss.b0 >= seasonBins || ss.n < 0 || ss.keep < 0 || ss.keep > 1 {
		r.Fail("a daily profile batch or segment out of range")
	}
	d.mode, d.learned, d.armed, d.stale, d.scoreKind = mode, flags&1 != 0, flags&2 != 0, flags&4 != 0, kind
	x.ready, x.above, x.saved = flags&8 != 0, flags&16 != 0, flags&32 != 0
	d.state, d.reason = State(state), Reason(reason)
	if r.Err != nil {
		return r.Err
	}
	return d.decodeWindow(r)
}

func (d *Detector) decodeWindow(r *wire.Reader) error {
	buckets, bins := r.Uvarint(), r.Uvarint()
	width0 := r.F64("window width")
	head := int64(r.U64())
	cur := r.Uvarint()
	offset, width := r.F64("window offset"), r.F64("window width")
	if r.Err != nil {
		return r.Err
	}
	if buckets > 1024 || bins > 4096 || width0 < 0 || width < 0 {
		r.Fail(fmt.Sprintf("window of %d buckets × %d bins", buckets, bins))
		return r.Err
	}
	counts := make([]uint32, (buckets+1)*bins)
	var total uint64
	for row := range buckets {
		nnz := r.Uvarint()
		if nnz > bins {
			r.Fail(fmt.Sprintf("%d counts in a row of %d bins", nnz, bins))
			return r.Err
		}
		i := uint64(0)
		for k := range nnz {
			if k > 0 {
				i++
			}
			i += r.Uvarint()
			c := r.Uvarint()
			if r.Err != nil {
				return r.Err
			}
			if i >= bins || c == 0 || c > math.MaxUint32 {
				r.Fail(fmt.Sprintf("window count %d at bin %d", c, i))
				return r.Err
			}
			counts[row*bins+i] = uint32(c)
			tot := &counts[buckets*bins+i]
			if uint64(*tot)+c > math.MaxUint32 {
				r.Fail("window total overflows")
				return r.Err
			}
			*tot += uint32(c)
			total += c
		}
	}
	nb, nbins := d.win.Layout()
	if buckets != uint64(nb) || bins != uint64(nbins) {
		d.setMode(d.mode) // an empty window with the mode's initial width
		return errWindowLayout
	}
	d.win.SetWidth(width0)
	return d.win.SetState(window.State{Head: head, Cur: int(min(cur, math.MaxInt32)), Total: total, Offset: offset, Width: width, Counts: counts})
}
