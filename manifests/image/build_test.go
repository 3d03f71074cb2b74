package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testOptions(out string) Options {
	return Options{
		Out:       out,
		Tar:       out + ".tar",
		Package:   "./testdata/hello",
		Binary:    "kubepulse",
		Version:   "v9.9.9-test",
		Revision:  "0123abcd",
		Platforms: []Platform{{"linux", "amd64"}, {"linux", "arm64"}},
		Created:   created,
	}
}

// readFiles extracts every regular file of an image's layers.
func readFiles(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*tar.Header{}
	for _, l := range layers {
		if mt, _ := l.MediaType(); mt != types.OCILayer {
			t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = h
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				h.PAXRecords = map[string]string{"content": string(b)} // keep the content with its header
			}
		}
		rc.Close()
	}
	return files
}

// The layout holds one multi-arch index (linux/amd64 and linux/arm64) whose
// images run the static binary as 65534 from /kubepulse, with the users, CA
// certificates and OCI labels; building again gives the same digest.
func TestBuildMultiArchLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles twice")
	}
	dir := t.TempDir()
	o := testOptions(filepath.Join(dir, "image"))
	digest, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}

	lp, err := layout.FromPath(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topManifest.Manifests) != 1 || topManifest.Manifests[0].MediaType != types.OCIImageIndex ||
		topManifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != o.Version ||
		topManifest.Manifests[0].Digest != digest {
		t.Fatalf("index.json: %+v, want one OCI index %s named %s", topManifest.Manifests, digest, o.Version)
	}
	idx, err := top.ImageIndex(digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations["org.opencontainers.image.version"] != o.Version || im.Annotations["org.opencontainers.image.revision"] != o.Revision {
		t.Errorf("index annotations %v", im.Annotations)
	}
	var platforms []string
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture || c.User != "65534:65534" ||
			!slices.Equal(c.Entrypoint, []string{"/kubepulse"}) || !cf.Created.Equal(created) {
			t.Errorf("%s config: os %s arch %s user %q entrypoint %v created %v", d.Platform, cf.OS, cf.Architecture, c.User, c.Entrypoint, cf.Created)
		}
		if _, ok := c.ExposedPorts[Port]; !ok || c.Labels["org.opencontainers.image.version"] != o.Version ||
			c.Labels["org.opencontainers.image.source"] == "" || c.Labels["org.opencontainers.image.created"] != "2026-11-25T12:00:00Z" {
			t.Errorf("%s config: ports %v labels %v", d.Platform, c.ExposedPorts, c.Labels)
		}

		files := readFiles(t, img)
		if !strings.Contains(files["etc/passwd"].PAXRecords["content"], "nobody:x:65534:65534:") ||
			!strings.Contains(files["etc/group"].PAXRecords["content"], "nobody:x:65534:") {
			t.Errorf("%s: /etc/passwd or /etc/group lacks user 65534", d.Platform)
		}
		if certs := files["etc/ssl/certs/ca-certificates.crt"]; certs == nil || !strings.Contains(certs.PAXRecords["content"], "BEGIN CERTIFICATE") {
			t.Errorf("%s: no CA certificates", d.Platform)
		}
		bin := files["kubepulse"]
		if bin == nil || bin.Mode != 0o755 || bin.Uid != 0 || !bin.ModTime.Equal(created) {
			t.Fatalf("%s: /kubepulse %+v", d.Platform, bin)
		}
		path := filepath.Join(dir, d.Platform.Architecture)
		if err := os.WriteFile(path, []byte(bin.PAXRecords["content"]), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		interp := f.Section(".interp")
		if f.Machine != machines[d.Platform.Architecture] || interp != nil {
			t.Errorf("%s: ELF machine %v, dynamic loader %v: want a static %v binary", d.Platform, f.Machine, interp != nil, machines[d.Platform.Architecture])
		}
		f.Close()
		if d.Platform.Architecture == runtime.GOARCH && runtime.GOOS == "linux" {
			out, err := exec.Command(path, "run").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "hello from the image test v9.9.9-test [run]") {
				t.Errorf("running the %s binary: %v: %s", runtime.GOARCH, err, out)
			}
		}
	}
	slices.Sort(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", platforms)
	}
	if st, err := os.Stat(o.Tar); err != nil || st.Size() < 1<<20 {
		t.Errorf("oci-archive %s: %v", o.Tar, err)
	}

	// Reproducible: the same inputs give the same index digest.
	again, err := Build(context.Background(), testOptions(filepath.Join(dir, "again")))
	if err != nil {
		t.Fatal(err)
	}
	if again != digest {
		t.Errorf("second build: %s, first %s", again, digest)
	}
}

// Bad options fail with a message naming the option.
func TestRunRejects(t *testing.T) {
	for args, want := range map[string]string{
		"-platforms linux":            "-platforms",
		"-created yesterday":          "-created",
		"-ca-bundle /nonexistent/ca":  "-ca-bundle",
		"-pkg ./testdata/nonexistent": "go build ./testdata/nonexistent",
		"-out":                        "flag needs an argument",
		"extra":                       "unexpected arguments",
	} {
		argv := append([]string{"-platforms", "linux/amd64", "-out", filepath.Join(t.TempDir(), "o")}, strings.Fields(args)...)
		if err := run(context.Background(), argv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", args, err, want)
		}
	}
	if _, err := caBundle(filepath.Join("testdata", "hello", "main.go")); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("a bundle without certificates: %v", err)
	}
}
