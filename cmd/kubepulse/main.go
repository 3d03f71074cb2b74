// Command kubepulse measures how fast the Kubernetes API answers from every
// node, learns each call's normal latency and alerts when it drifts.
//
// Usage:
//
//	kubepulse <command> [flags]
//
// Commands are listed by `kubepulse help`. Exit codes: 0 success, 1 the command
// failed, 2 bad usage (unknown command or flag, invalid configuration).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in `kubepulse help`.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// usageError marks an error caused by how the command was called; main exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// command is one subcommand: run parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the node agent (in a DaemonSet, or with --kubeconfig)", runAgent},
		{"demo", "run the whole agent against a simulated API server: no cluster needed", runDemo},
		{"backtest", "replay recorded series through the detector and score every row", runBacktest},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and maps its error to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil, errors.Is(err, errHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "kubepulse %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "kubepulse %s: %v\n", c.name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "kubepulse: unknown command %q (see kubepulse help)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `kubepulse measures Kubernetes API latency from every node, learns what is
normal for each kind of call and alerts when it drifts.

Usage: kubepulse <command> [flags]    (kubepulse <command> -h for its flags)

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Exit codes: 0 success, 1 the command failed, 2 bad usage or invalid configuration.
`)
}

func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("version takes no arguments, got %q", args)}
	}
	fmt.Fprintln(stdout, "kubepulse", version)
	return nil
}
