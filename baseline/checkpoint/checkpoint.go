// Package checkpoint writes and reads a versioned, checksummed snapshot of
// opaque entries, staged in a github.com/VictoriaMetrics/fastcache cache and
// saved with its file format.
//
// A checkpoint is a directory:
//
//	PATH/MANIFEST      magic, format version, kind and version of the
//	                   entries, metadata, entry count, and the size and
//	                   CRC-32C of every file below; its own CRC-32C last
//	PATH/cache/...     fastcache's SaveToFile output (snappy-compressed
//	                   buckets); entry i is stored under key "e"+uvarint(i)
//	                   as CRC-32C(payload) ‖ payload
//
// Save writes the whole directory next to PATH and renames it into place
// (the previous checkpoint is kept as PATH.old until then), so a crash leaves
// either the old or the new checkpoint, never a mix. Load verifies the
// manifest and every file checksum before parsing anything, then every entry
// checksum; any mismatch is an error wrapping ErrCorrupt, a different format
// or entry version one wrapping ErrVersion, a missing checkpoint one wrapping
// fs.ErrNotExist. The caller decodes entries into a fresh structure and only
// swaps it in when Load returns nil.
package checkpoint

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/fastcache"

	"github.com/kubepulse/kubepulse/baseline/internal/wire"
)

// FormatVersion is the version of the container format written by Save.
const FormatVersion = 1

const (
	magic        = "KPCKPT\r\n"
	manifestName = "MANIFEST"
	cacheDir     = "cache"
	// maxManifest bounds what Load reads before trusting anything.
	maxManifest = 1 << 20
	// maxPayload is the largest entry fastcache stores with Set.
	maxPayload = 60 << 10
)

// Errors Load wraps.
var (
	ErrCorrupt = errors.New("checkpoint is corrupt")
	ErrVersion = errors.New("checkpoint has an unsupported version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Header identifies what a checkpoint holds.
type Header struct {
	// Kind names the producer, e.g. "kubepulse/baseline".
	Kind string
	// Version is the producer's entry format version.
	Version uint32
	// Meta is free-form producer data (at most 64 KiB).
	Meta []byte
}

// Writer collects the entries of one checkpoint in one growing buffer.
type Writer struct {
	arena []byte
	ends  []int
}

// Append adds an entry built by fn, which appends the payload to dst and
// returns the result (no copy is made).
func (w *Writer) Append(fn func(dst []byte) []byte) {
	w.arena = fn(w.arena)
	w.ends = append(w.ends, len(w.arena))
}

// Add adds a copy of payload as an entry.
func (w *Writer) Add(payload []byte) {
	w.Append(func(dst []byte) []byte { return append(dst, payload...) })
}

// Len returns the number of entries.
func (w *Writer) Len() int { return len(w.ends) }

// Reset empties the writer, keeping its buffers.
func (w *Writer) Reset() { w.arena, w.ends = w.arena[:0], w.ends[:0] }

func (w *Writer) entry(i int) []byte {
	start := 0
	if i > 0 {
		start = w.ends[i-1]
	}
	return w.arena[start:w.ends[i]]
}

func entryKey(dst []byte, i int) []byte {
	return binary.AppendUvarint(append(dst[:0], 'e'), uint64(i))
}

// Save writes the entries and h to a checkpoint at path, replacing any
// previous one atomically.
func (w *Writer) Save(path string, h Header) error {
	if len(h.Meta) > 64<<10 {
		return fmt.Errorf("checkpoint: metadata of %d bytes exceeds 64 KiB", len(h.Meta))
	}
	for i := range w.ends {
		if n := len(w.entry(i)); n > maxPayload {
			return fmt.Errorf("checkpoint: entry %d is %d bytes, more than %d", i, n, maxPayload)
		}
	}
	c, err := w.fill()
	if err != nil {
		return err
	}
	defer c.Reset() // hand fastcache's chunks back to its pool

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path + ".tmp-" + hex.EncodeToString(rnd[:])
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := c.SaveToFileConcurrent(filepath.Join(tmp, cacheDir), 0); err != nil {
		return fmt.Errorf("checkpoint: save cache: %w", err)
	}
	files, err := listFiles(filepath.Join(tmp, cacheDir), true)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	m := manifest{Header: h, Format: FormatVersion, Entries: uint64(len(w.ends)), Files: files}
	if err := writeFileSync(filepath.Join(tmp, manifestName), m.marshal()); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	syncDir(filepath.Join(tmp, cacheDir))
	syncDir(tmp)

	old := path + ".old"
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(path, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	syncDir(dir)
	_ = os.RemoveAll(old)
	return nil
}

// fill stores every entry in a fastcache sized so that none is evicted,
// and checks that each is present.
func (w *Writer) fill() (*fastcache.Cache, error) {
	total := len(w.arena) + len(w.ends)*16
	size := 2*total + 512*2*64<<10
	for range 4 {
		c := fastcache.New(size)
		var key, val []byte
		for i := range w.ends {
			p := w.entry(i)
			key = entryKey(key, i)
			val = binary.LittleEndian.AppendUint32(val[:0], checksum(p))
			val = append(val, p...)
			c.Set(key, val)
		}
		ok := true
		for i := range w.ends {
			if key = entryKey(key, i); !c.Has(key) {
				ok = false
				break
			}
		}
		if ok {
			return c, nil
		}
		c.Reset()
		size *= 2
	}
	return nil, fmt.Errorf("checkpoint: could not stage %d entries (%d bytes) without eviction", len(w.ends), total)
}

// Load reads the checkpoint at path, checks it holds entries of kind with
// version, and calls fn with every entry's payload in the order they were
// added (payload is only valid during the call). An error from fn aborts
// the load and is returned wrapped in ErrCorrupt. If path is missing but a
// previous checkpoint survives from an interrupted Save, that one is read.
func Load(path, kind string, version uint32, fn func(payload []byte) error) (Header, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, err2 := os.Stat(path + ".old"); err2 == nil {
			path += ".old"
		}
	}
	m, err := readManifest(path)
	if err != nil {
		return Header{}, err
	}
	if m.Kind != kind || m.Version != version {
		return m.Header, fmt.Errorf("%w: %s holds %q version %d, want %q version %d", ErrVersion, path, m.Kind, m.Version, kind, version)
	}
	cdir := filepath.Join(path, cacheDir)
	files, err := listFiles(cdir, false)
	if err != nil {
		return m.Header, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if err := sameFiles(m.Files, files); err != nil {
		return m.Header, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	c, err := fastcache.LoadFromFile(cdir)
	if err != nil {
		return m.Header, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	defer c.Reset()
	var key, val []byte
	for i := range m.Entries {
		key = entryKey(key, int(i))
		var ok bool
		val, ok = c.HasGet(val[:0], key)
		if !ok {
			return m.Header, fmt.Errorf("%w: %s: entry %d of %d is missing", ErrCorrupt, path, i, m.Entries)
		}
		if len(val) < 4 || binary.LittleEndian.Uint32(val) != checksum(val[4:]) {
			return m.Header, fmt.Errorf("%w: %s: entry %d fails its checksum", ErrCorrupt, path, i)
		}
		if err := fn(val[4:]); err != nil {
			return m.Header, fmt.Errorf("%w: %s: entry %d: %v", ErrCorrupt, path, i, err)
		}
	}
	return m.Header, nil
}

// fileSum is one file of the checkpoint as the manifest records it.
type fileSum struct {
	Name string
	Size uint64
	CRC  uint32
}

// listFiles returns the regular files of dir with their sizes and
// checksums, sorted by name; with sync set it also fsyncs them.
func listFiles(dir string, sync bool) ([]fileSum, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fileSum
	for _, e := range ents {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("unexpected entry %q", e.Name())
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		h := crc32.New(castagnoli)
		n, err := io.Copy(h, f)
		if err == nil && sync {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, fileSum{Name: e.Name(), Size: uint64(n), CRC: h.Sum32()})
	}
	slices.SortFunc(out, func(a, b fileSum) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func sameFiles(want, got []fileSum) error {
	if len(want) != len(got) {
		return fmt.Errorf("manifest lists %d files, directory has %d", len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		switch {
		case w.Name != g.Name:
			return fmt.Errorf("manifest lists %q, directory has %q", w.Name, g.Name)
		case w.Size != g.Size:
			return fmt.Errorf("%s: %d bytes, manifest says %d (truncated?)", w.Name, g.Size, w.Size)
		case w.CRC != g.CRC:
			return fmt.Errorf("%s: checksum mismatch", w.Name)
		}
	}
	return nil
}

func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err2 := f.Sync(); err == nil {
		err = err2
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	return err
}

// syncDir makes a rename or create in dir durable; best effort.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

func readManifest(path string) (manifest, error) {
	f, err := os.Open(filepath.Join(path, manifestName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return manifest{}, fmt.Errorf("checkpoint %s: %w", path, fs.ErrNotExist)
		}
		return manifest{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return manifest{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	var m manifest
	if err := m.unmarshal(b); err != nil {
		if errors.Is(err, ErrVersion) {
			return m, fmt.Errorf("%s: %w", path, err)
		}
		return m, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return m, nil
}

// manifest is the MANIFEST file.
type manifest struct {
	Header
	Format  uint32
	Entries uint64
	Files   []fileSum
}

func (m *manifest) marshal() []byte {
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, m.Format)
	b = appendBytes(b, []byte(m.Kind))
	b = binary.LittleEndian.AppendUint32(b, m.Version)
	b = appendBytes(b, m.Meta)
	b = binary.LittleEndian.AppendUint64(b, m.Entries)
	b = binary.AppendUvarint(b, uint64(len(m.Files)))
	for _, f := range m.Files {
		b = appendBytes(b, []byte(f.Name))
		b = binary.LittleEndian.AppendUint64(b, f.Size)
		b = binary.LittleEndian.AppendUint32(b, f.CRC)
	}
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// unmarshal parses a manifest, checking the magic, the trailing checksum
// and the format version before anything else. It never panics.
func (m *manifest) unmarshal(b []byte) error {
	if len(b) > maxManifest {
		return errors.New("manifest too large")
	}
	if len(b) < len(magic)+8 || !bytes.Equal(b[:len(magic)], []byte(magic)) {
		return errors.New("not a kubepulse checkpoint (bad magic)")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		return errors.New("manifest checksum mismatch")
	}
	r := wire.Reader{B: body[len(magic):]}
	if m.Format = r.U32(); m.Format != FormatVersion {
		return fmt.Errorf("%w: format %d, this build reads %d", ErrVersion, m.Format, FormatVersion)
	}
	m.Kind = string(r.Bytes(256))
	m.Version = r.U32()
	m.Meta = slices.Clone(r.Bytes(64 << 10))
	m.Entries = r.U64()
	n := r.Uvarint()
	if n > 4096 {
		return fmt.Errorf("manifest lists %d files", n)
	}
	m.Files = nil
	for range n {
		f := fileSum{Name: string(r.Bytes(256))}
		f.Size, f.CRC = r.U64(), r.U32()
		if f.Name == "" || strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("bad file name %q", f.Name)
		}
		m.Files = append(m.Files, f)
	}
	if r.Err != nil {
		return r.Err
	}
	if len(r.B) != 0 {
		return fmt.Errorf("%d trailing bytes", len(r.B))
	}
	if !slices.IsSortedFunc(m.Files, func(a, b fileSum) int { return strings.Compare(a.Name, b.Name) }) {
		return errors.New("file list not sorted")
	}
	return nil
}
