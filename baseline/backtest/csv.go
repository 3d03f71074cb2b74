package backtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// LineError is a problem with one line of an input file.
type LineError struct {
	File string // empty for a bare reader
	Line int
	Err  error
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// reader splits a CSV stream into records. It handles what RFC 4180 allows
// (quoted fields with commas, doubled quotes and line breaks) and CRLF line
// ends, and keeps the physical line number of each record for errors. The
// common case — no quotes — is a scan for commas in the line buffer.
type reader struct {
	br      *bufio.Reader
	line    int // physical line where the current record starts
	next    int // physical line of the next read
	rec     []byte
	fields  [][]byte // slices of rec or of unq
	unq     []byte   // unquoted copies of quoted fields
	bounds  []int
	partial []byte
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 256<<10), next: 1}
}

// readLine returns the next physical line without its line end; the slice
// is valid until the next call. It returns io.EOF after the last line.
func (r *reader) readLine() ([]byte, error) {
	l, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.partial = append(r.partial[:0], l...)
		for err == bufio.ErrBufferFull {
			l, err = r.br.ReadSlice('\n')
			r.partial = append(r.partial, l...)
		}
		l = r.partial
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(l) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	r.next++
	l = bytes.TrimSuffix(l, []byte{'\n'})
	l = bytes.TrimSuffix(l, []byte{'\r'})
	return l, nil
}

// record reads the next non-blank record into r.fields.
func (r *reader) record() error {
	for {
		r.line = r.next
		l, err := r.readLine()
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if bytes.IndexByte(l, '"') < 0 {
			r.split(l)
			return nil
		}
		return r.splitQuoted(l)
	}
}

func (r *reader) split(l []byte) {
	r.fields = r.fields[:0]
	for {
		i := bytes.IndexByte(l, ',')
		if i < 0 {
			r.fields = append(r.fields, l)
			return
		}
		r.fields = append(r.fields, l[:i])
		l = l[i+1:]
	}
}

// splitQuoted parses a record with quotes, reading more lines while a
// quoted field is open.
func (r *reader) splitQuoted(l []byte) error {
	r.rec = append(r.rec[:0], l...)
	r.unq = r.unq[:0]
	r.bounds = r.bounds[:0]
	i := 0
	for {
		start := len(r.unq)
		// Leading spaces before a quote are tolerated.
		j := i
		for j < len(r.rec) && r.rec[j] == ' ' {
			j++
		}
		if j < len(r.rec) && r.rec[j] == '"' {
			j++
			for {
				if j >= len(r.rec) {
					more, err := r.readLine()
					if err == io.EOF {
						return &LineError{Line: r.line, Err: errors.New("quoted field not closed before end of file")}
					}
					if err != nil {
						return err
					}
					r.rec = append(append(r.rec, '\n'), more...)
					continue
				}
				c := r.rec[j]
				j++
				if c != '"' {
					r.unq = append(r.unq, c)
					continue
				}
				if j < len(r.rec) && r.rec[j] == '"' {
					r.unq = append(r.unq, '"')
					j++
					continue
				}
				break
			}
			for j < len(r.rec) && r.rec[j] == ' ' {
				j++
			}
			if j < len(r.rec) && r.rec[j] != ',' {
				return &LineError{Line: r.line, Err: fmt.Errorf("unexpected %q after a closing quote", r.rec[j])}
			}
		} else {
			k := bytes.IndexByte(r.rec[i:], ',')
			end := len(r.rec)
			if k >= 0 {
				end = i + k
			}
			if q := bytes.IndexByte(r.rec[i:end], '"'); q >= 0 {
				return &LineError{Line: r.line, Err: errors.New(`bare " in an unquoted field`)}
			}
			r.unq = append(r.unq, r.rec[i:end]...)
			j = end
		}
		r.bounds = append(r.bounds, start, len(r.unq))
		if j >= len(r.rec) {
			break
		}
		i = j + 1 // past the comma
		if i == len(r.rec) {
			r.bounds = append(r.bounds, len(r.unq), len(r.unq))
			break
		}
	}
	r.fields = r.fields[:0]
	for k := 0; k < len(r.bounds); k += 2 {
		r.fields = append(r.fields, r.unq[r.bounds[k]:r.bounds[k+1]])
	}
	return nil
}

// missing reports a value that stands for "no measurement": empty, NaN,
// NA, N/A, null, none (any case), or an infinity.
func missing(b []byte) bool {
	switch len(b) {
	case 0:
		return true
	case 2, 3, 4:
		var lower [4]byte
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		switch string(lower[:len(b)]) {
		case "nan", "na", "n/a", "null", "none", "inf", "+inf", "-inf":
			return true
		}
	case 8, 9:
		if bytes.EqualFold(b, []byte("infinity")) || bytes.EqualFold(b, []byte("+infinity")) || bytes.EqualFold(b, []byte("-infinity")) {
			return true
		}
	}
	return false
}

// parseValue parses a float without allocating.
func parseValue(b []byte) (float64, error) {
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		if ne := (*strconv.NumError)(nil); errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return v, nil // ±Inf or 0: handled as a value out of range below
		}
		return 0, fmt.Errorf("value %q is not a number", b)
	}
	return v, nil
}

// parseTime parses a timestamp into Unix nanoseconds. It accepts RFC 3339
// (with or without fraction, 'T' or ' ', a zone or none meaning UTC),
// "YYYY-MM-DD HH:MM:SS[.frac]" (UTC), a bare date, and Unix seconds with an
// optional fraction. Unix numbers too large for seconds in this era are read
// by magnitude as milliseconds (> 1e11), microseconds (> 1e14) or
// nanoseconds (> 1e17), as some exporters write them.
func parseTime(b []byte) (int64, error) {
	if len(b) >= 10 && b[4] == '-' && b[7] == '-' {
		if t, ok := parseDateTime(b); ok {
			return t, nil
		}
		s := string(b)
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UnixNano(), nil
			}
		}
		return 0, fmt.Errorf("timestamp %q: want RFC 3339, \"YYYY-MM-DD HH:MM:SS\" or Unix seconds", b)
	}
	return parseUnix(b)
}

func parseUnix(b []byte) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("timestamp %q: want RFC 3339, \"YYYY-MM-DD HH:MM:SS\" or Unix seconds", b)
	}
	// Fast path: [-]digits[.digits]
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, i = b[0] == '-', 1
	}
	var sec int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if sec > (math.MaxInt64-9)/10 {
			return parseUnixFloat(b)
		}
		sec = sec*10 + int64(b[i]-'0')
		digits++
	}
	var frac, scale int64 = 0, 1
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if scale < 1e9 {
				frac = frac*10 + int64(b[i]-'0')
				scale *= 10
			}
			digits++
		}
	}
	if i != len(b) {
		return parseUnixFloat(b)
	}
	if digits == 0 {
		return bad()
	}
	if sec > 1e11 {
		return parseUnixFloat(b)
	}
	ns := sec*1e9 + frac*(1e9/scale)
	if neg {
		ns = -ns
	}
	return ns, nil
}

// parseUnixFloat handles exponents and numbers read as ms, µs or ns.
func parseUnixFloat(b []byte) (int64, error) {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("timestamp %q: want RFC 3339, \"YYYY-MM-DD HH:MM:SS\" or Unix seconds", b)
	}
	a := math.Abs(v)
	switch {
	case a > 1e17:
		// nanoseconds
	case a > 1e14:
		v *= 1e3
	case a > 1e11:
		v *= 1e6
	default:
		v *= 1e9
	}
	if math.Abs(v) >= math.MaxInt64 {
		return 0, fmt.Errorf("timestamp %q is out of range", b)
	}
	return int64(v), nil
}

func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// parseDateTime is the fast path for "YYYY-MM-DD[( |T)HH:MM[:SS[.frac]]][Z|±HH:MM]".
func parseDateTime(b []byte) (int64, bool) {
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, false
	}
	var h, mi, s int
	var ns int64
	rest := b[10:]
	if len(rest) > 0 {
		if rest[0] != ' ' && rest[0] != 'T' && rest[0] != 't' {
			return 0, false
		}
		rest = rest[1:]
		if len(rest) < 5 || rest[2] != ':' {
			return 0, false
		}
		var ok4, ok5 bool
		h, ok4 = num(rest[0:2])
		mi, ok5 = num(rest[3:5])
		if !ok4 || !ok5 || h > 23 || mi > 59 {
			return 0, false
		}
		rest = rest[5:]
		if len(rest) >= 3 && rest[0] == ':' {
			var ok6 bool
			if s, ok6 = num(rest[1:3]); !ok6 || s > 60 {
				return 0, false
			}
			rest = rest[3:]
			if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
				k := 1
				scale := int64(1e9)
				for ; k < len(rest) && rest[k] >= '0' && rest[k] <= '9'; k++ {
					if scale > 1 {
						scale /= 10
						ns += int64(rest[k]-'0') * scale
					}
				}
				if k == 1 {
					return 0, false
				}
				rest = rest[k:]
			}
		}
	}
	var off int64
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok7 := num(rest[1:3])
		om, ok8 := num(rest[4:6])
		if !ok7 || !ok8 || oh > 23 || om > 59 {
			return 0, false
		}
		off = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	days := daysFromCivil(int64(y), int64(mo), int64(d))
	secs := days*86400 + int64(h*3600+mi*60+s) - off
	return secs*1e9 + ns, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
