package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ckpt")
	var w Writer
	var want [][]byte
	for i := range 5000 {
		p := bytes.Repeat([]byte{byte(i)}, i%300)
		p = fmt.Appendf(p, "entry-%d", i)
		want = append(want, p)
		w.Add(p)
	}
	h := Header{Kind: "test", Version: 3, Meta: []byte("meta")}
	if err := w.Save(path, h); err != nil {
		t.Fatal(err)
	}
	// A second save replaces the first atomically and leaves no debris.
	if err := w.Save(path, h); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after two saves, want 1", len(ents))
	}
	var got [][]byte
	gh, err := Load(path, "test", 3, func(p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(gh.Meta) != "meta" || len(got) != len(want) {
		t.Fatalf("header %+v, %d entries", gh, len(got))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d differs", i)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	var w Writer
	w.Add([]byte("x"))
	if err := w.Save(path, Header{Kind: "k", Version: 1}); err != nil {
		t.Fatal(err)
	}
	noop := func([]byte) error { return nil }
	if _, err := Load(filepath.Join(dir, "none"), "k", 1, noop); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := Load(path, "k", 2, noop); !errors.Is(err, ErrVersion) {
		t.Errorf("version: %v", err)
	}
	if _, err := Load(path, "other", 1, noop); !errors.Is(err, ErrVersion) {
		t.Errorf("kind: %v", err)
	}
	if _, err := Load(path, "k", 1, func([]byte) error { return errors.New("nope") }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("callback error: %v", err)
	}
	// A crash between the two renames of Save leaves only PATH.old.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, "k", 1, noop); err != nil {
		t.Errorf("PATH.old not used: %v", err)
	}
	// Another container format version.
	os.Rename(path+".old", path)
	m := filepath.Join(path, manifestName)
	b, _ := os.ReadFile(m)
	var man manifest
	if err := man.unmarshal(b); err != nil {
		t.Fatal(err)
	}
	man.Format = FormatVersion + 1
	os.WriteFile(m, man.marshal(), 0o644)
	if _, err := Load(path, "k", 1, noop); !errors.Is(err, ErrVersion) {
		t.Errorf("format version: %v", err)
	}
}

func TestSaveRejectsOversizedInput(t *testing.T) {
	var w Writer
	w.Add(make([]byte, maxPayload+1))
	if err := w.Save(filepath.Join(t.TempDir(), "c"), Header{Kind: "k"}); err == nil {
		t.Error("oversized entry accepted")
	}
	w.Reset()
	if err := w.Save(filepath.Join(t.TempDir(), "c"), Header{Kind: "k", Meta: make([]byte, 65<<10)}); err == nil {
		t.Error("oversized metadata accepted")
	}
}

// FuzzManifest: the manifest parser accepts only what marshal writes (a
// checksum guards it) and never panics.
func FuzzManifest(f *testing.F) {
	good := (&manifest{Header: Header{Kind: "kubepulse/baseline", Version: 1, Meta: []byte{1, 2}}, Format: FormatVersion, Entries: 7,
		Files: []fileSum{{Name: "data.0.bin", Size: 10, CRC: 3}, {Name: "metadata.bin", Size: 8, CRC: 4}}}).marshal()
	f.Add(good)
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m manifest
		if err := m.unmarshal(b); err != nil {
			return
		}
		if !bytes.Equal(m.marshal(), b) {
			t.Fatalf("accepted a manifest that does not re-encode to itself")
		}
	})
}
