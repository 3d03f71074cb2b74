package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Platform is an OS/architecture pair the image is built for.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Options say what Build builds and where it writes it.
type Options struct {
	Out       string // OCI image layout directory (replaced)
	Tar       string // optional: the layout as a tar file
	Package   string // Go package of the binary
	Binary    string // its file name at /
	Version   string // -X main.version and the version label
	Revision  string // source revision label; "" leaves it out
	CABundle  string // CA certificates; "" finds the build host's
	Platforms []Platform
	Created   time.Time // image creation time and every file's mtime
}

// User is the nonroot user and group the image runs as (as the chart's
// securityContext and the restricted Pod Security profile want).
const User = 65534

// Port is the agent's HTTP port, exposed in the image config.
const Port = "9477/tcp"

// Labels are the image's OCI labels.
func (o Options) Labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":         "kubepulse",
		"org.opencontainers.image.description":   "Kubernetes API latency, as every node sees it",
		"org.opencontainers.image.source":        "https://github.com/kubepulse/kubepulse",
		"org.opencontainers.image.url":           "https://github.com/kubepulse/kubepulse",
		"org.opencontainers.image.documentation": "https://github.com/kubepulse/kubepulse/blob/main/docs/deploy.md",
		"org.opencontainers.image.version":       o.Version,
		"org.opencontainers.image.created":       o.Created.UTC().Format(time.RFC3339),
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// Build compiles the binary for every platform, assembles one image per
// platform and an index over them, and writes the OCI layout. It returns
// the index's digest.
func Build(ctx context.Context, o Options) (v1.Hash, error) {
	if len(o.Platforms) == 0 {
		return v1.Hash{}, fmt.Errorf("no platforms")
	}
	o.Created = o.Created.UTC().Truncate(time.Second)
	base, err := baseLayer(o)
	if err != nil {
		return v1.Hash{}, err
	}
	bins, err := os.MkdirTemp("", "kubepulse-image-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(bins)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(bins, p.OS+"-"+p.Arch)
		if err := compile(ctx, o, p, bin); err != nil {
			return v1.Hash{}, err
		}
		img, err := image(o, p, base, bin)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}}})
	}
	idx = mutate.Annotations(idx, o.Labels()).(v1.ImageIndex)

	if err := os.RemoveAll(o.Out); err != nil {
		return v1.Hash{}, err
	}
	lp, err := layout.Write(o.Out, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write layout %s: %w", o.Out, err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Version,
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("write layout %s: %w", o.Out, err)
	}
	if o.Tar != "" {
		if err := tarDir(o.Out, o.Tar, o.Created); err != nil {
			return v1.Hash{}, err
		}
	}
	return idx.Digest()
}

// compile builds a static binary for p: no cgo, so it runs FROM scratch.
func compile(ctx context.Context, o Options, p Platform, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+o.Version, "-o", out, o.Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", o.Package, p, err, b)
	}
	return nil
}

// image is one platform's image: the shared base layer, then the binary.
func image(o Options, p Platform, base v1.Layer, bin string) (v1.Image, error) {
	binLayer, err := binaryLayer(o, bin)
	if err != nil {
		return nil, err
	}
	env := []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: p.Arch,
		OS:           p.OS,
		Created:      v1.Time{Time: o.Created},
		Config: v1.Config{
			User:         fmt.Sprintf("%d:%d", User, User),
			Entrypoint:   []string{"/" + o.Binary},
			Env:          env,
			WorkingDir:   "/",
			Labels:       o.Labels(),
			ExposedPorts: map[string]struct{}{Port: {}},
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: o.Created},
			CreatedBy: "kubepulse image: /etc/passwd, /etc/group, CA certificates"}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: v1.Time{Time: o.Created},
			CreatedBy: fmt.Sprintf("kubepulse image: go build %s for %s", o.Package, p)}})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// file is one entry of a layer.
type file struct {
	name string // relative, "etc/passwd"; directories end in "/"
	mode int64
	data []byte
}

// writeTar writes files, in the given order, owned by root and stamped with
// mtime: the same input gives the same bytes.
func writeTar(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// layer builds a gzip-compressed OCI layer from files.
func layer(files []file, mtime time.Time) (v1.Layer, error) {
	raw, err := writeTar(files, mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// passwd and group hold root and the nonroot user the agent runs as, so
// that tools and libraries that look the user up find it.
var (
	passwd = fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:%d:%d:nobody:/nonexistent:/sbin/nologin\n", User, User)
	group  = fmt.Sprintf("root:x:0:\nnobody:x:%d:\n", User)
)

// baseLayer is what every platform shares: users, groups, CA certificates.
func baseLayer(o Options) (v1.Layer, error) {
	certs, err := caBundle(o.CABundle)
	if err != nil {
		return nil, err
	}
	return layer([]file{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
	}, o.Created)
}

func binaryLayer(o Options, bin string) (v1.Layer, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return layer([]file{{name: o.Binary, mode: 0o755, data: b}}, o.Created)
}

// systemBundles are where Linux distributions (and macOS) keep the CA bundle.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Gentoo
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",             // openSUSE
	"/etc/ssl/cert.pem",                  // Alpine, macOS
}

// caBundle reads a PEM CA bundle and checks that it holds certificates.
func caBundle(path string) ([]byte, error) {
	candidates := systemBundles
	if path != "" {
		candidates = []string{path}
	}
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if err != nil {
			if path != "" {
				return nil, fmt.Errorf("-ca-bundle: %w", err)
			}
			continue
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificates in it", p)
		}
		return b, nil
	}
	return nil, fmt.Errorf("no CA bundle found in %v: install ca-certificates or pass -ca-bundle", candidates)
}

// tarDir writes dir as a tar file, entries sorted and stamped with mtime.
func tarDir(dir, out string, mtime time.Time) error {
	var names []string
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			names = append(names, p)
		}
		return err
	}); err != nil {
		return err
	}
	slices.Sort(names)
	var files []file
	for _, p := range names {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.IsDir() {
			files = append(files, file{name: rel + "/", mode: 0o755})
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, file{name: rel, mode: 0o644, data: b})
	}
	raw, err := writeTar(files, mtime)
	if err != nil {
		return err
	}
	return os.WriteFile(out, raw, 0o644)
}

// creationTime is the -created flag, SOURCE_DATE_EPOCH, the last commit's
// time, or the Unix epoch: never the wall clock, so that builds repeat.
func creationTime(ctx context.Context, flagValue string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("-created: %w", err)
		}
		return t, nil
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = gitOutput(ctx, "log", "-1", "--format=%ct")
	}
	if epoch == "" {
		return time.Unix(0, 0), nil
	}
	s, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", epoch)
	}
	return time.Unix(s, 0), nil
}

// gitOutput is a git command's trimmed output, or "" where git or the
// repository is missing.
func gitOutput(ctx context.Context, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
