// Command image builds kubepulse's container image without Docker or a
// registry: a multi-arch (linux/amd64, linux/arm64) OCI image layout, FROM
// scratch, holding the static binary, /etc/passwd and /etc/group with the
// nonroot user 65534, the build host's CA certificates, and OCI labels. The
// result is deterministic: the same sources, version and creation time give
// the same digests.
//
//	go run ./manifests/image -out dist/image -version v0.1.0
//	crane push dist/image ghcr.io/kubepulse/kubepulse:v0.1.0   # or: skopeo copy --all oci:dist/image docker://...
//
// `make image` runs it. The Dockerfile beside it builds the same image with
// docker buildx (golang → distroless/static).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	var platforms, created string
	fs.StringVar(&o.Out, "out", "dist/image", "directory of the OCI image layout to write (replaced)")
	fs.StringVar(&o.Tar, "tar", "", "also write the layout as this tar file (an oci-archive for skopeo and podman)")
	fs.StringVar(&o.Package, "pkg", "./cmd/kubepulse", "Go package of the binary")
	fs.StringVar(&o.Binary, "binary", "kubepulse", "file name of the binary in the image (at /)")
	fs.StringVar(&o.Version, "version", "dev", "version: stamped into the binary (-X main.version) and the labels")
	fs.StringVar(&o.Revision, "revision", "", "source revision for the labels (default: git rev-parse HEAD, if available)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated OS/ARCH list")
	fs.StringVar(&created, "created", "", "creation time, RFC 3339 (default: SOURCE_DATE_EPOCH, else the last commit's time, else 1970-01-01)")
	fs.StringVar(&o.CABundle, "ca-bundle", "", "CA certificates to copy (default: the build host's system bundle)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, p := range strings.Split(platforms, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || os == "" || arch == "" {
			return fmt.Errorf("-platforms: %q: want OS/ARCH, e.g. linux/arm64", p)
		}
		o.Platforms = append(o.Platforms, Platform{OS: os, Arch: arch})
	}
	var err error
	if o.Created, err = creationTime(ctx, created); err != nil {
		return err
	}
	if o.Revision == "" {
		o.Revision = gitOutput(ctx, "rev-parse", "HEAD")
	}
	digest, err := Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s (%d platforms, created %s)\n", o.Out, digest, len(o.Platforms), o.Created.Format(time.RFC3339))
	return nil
}
