// Package cli is `photon` the command-line client: the commands beside the server ones
// in cmd/photon, with the grammar of Photon Controller's CLI 1.2 (its command names,
// flags, argument order and -n output) so its users' scripts run, and commands of ours
// for users, groups, subscriptions, rules and the audit log. It is built on the public
// client package.
//
// Output: a table with a header and a total (or "Key: value" lines for one object) by
// default; with -n (--non-interactive) tab-separated rows without header, and after a
// command that runs a task only the id of its entity, as Photon's CLI printed for
// scripts; with -o json the API's JSON (an array for lists, the entity for a task's
// command). Errors go to stderr. Exit codes: 0 done, 1 the API refused or a task
// failed (its ApiError code and message on stderr), 2 the command line is wrong.
//
// When a terminal is attached and -n is not given, a missing required value is asked
// for, and a running task is drawn live on stderr (its chain's steps as they complete;
// a bar with completed, failed and total counts for a bulk create); otherwise progress
// is plain lines on stderr, or nothing with -n.
package cli

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/photon-cloud/photon/client"
)

// globals are Photon's global flags: given before the command (photon -n vm list), or,
// in their long forms and -o, after it.
type globals struct {
	nonInteractive bool
	output         string
	detail         bool
}

// app is the state one run of the CLI shares between its commands.
type app struct {
	g    globals
	in   io.Reader
	rd   *bufio.Reader
	out  io.Writer
	errw io.Writer
	// stdinTTY and stderrTTY say whether prompts and live progress are possible.
	stdinTTY, stderrTTY bool

	cfg *Config
	cl  *client.Client
}

// usageError is a wrong command line: exit code 2.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Prepare takes Photon's global flags from the front of args (before the command name)
// and answers the rest for cobra, with the app the CLI commands share.
func Prepare(args []string) ([]string, *app, error) {
	a := &app{in: os.Stdin, out: os.Stdout, errw: os.Stderr,
		stdinTTY: term.IsTerminal(int(os.Stdin.Fd())), stderrTTY: term.IsTerminal(int(os.Stderr.Fd()))}
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--"; i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		switch name {
		case "-n", "--non-interactive":
			a.g.nonInteractive = true
		case "-d", "--detail":
			a.g.detail = true
		case "-o", "--output":
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, usagef("%s needs a format (json)", name)
				}
				i++
				val = args[i]
			}
			a.g.output = val
		case "-h", "--help", "-v", "--version":
			return args, a, nil
		default:
			return nil, nil, usagef("unknown global flag %s (global flags: -n, -o json, -d)", args[i])
		}
	}
	return args[i:], a, nil
}

// Commands are the CLI's commands, for the root command of the photon binary.
func (a *app) Commands() []*cobra.Command {
	system := a.systemCmd()
	system.AddCommand(a.serviceTypesCmd())
	cmds := []*cobra.Command{
		a.targetCmd(), a.authCmd(), system, a.tenantCmd(), a.projectCmd(),
		a.flavorCmd(), a.imageCmd(), a.vmCmd(), a.diskCmd(), a.serviceCmd(), a.routerCmd(), a.subnetCmd(),
		a.networkCmd(), a.hostCmd(), a.zoneCmd(), a.datastoreCmd(), a.infrastructureCmd(),
		a.taskCmd(), a.userCmd(), a.groupCmd(), a.subscriptionCmd(), a.ruleCmd(),
		a.eventCmd(), a.auditCmd(),
	}
	for _, c := range cmds {
		c.GroupID = "cli"
		f := c.PersistentFlags()
		f.StringVarP(&a.g.output, "output", "o", a.g.output, "output format: json")
		f.BoolVar(&a.g.nonInteractive, "non-interactive", a.g.nonInteractive, "no prompts; tab-separated output for scripts (also -n before the command)")
		f.BoolVar(&a.g.detail, "detail", a.g.detail, "print the current target, user, tenant and project first (also -d before the command)")
		c.PersistentPreRunE = a.before
		refuseUnknown(c)
	}
	return cmds
}

// refuseUnknown makes a command that only groups others answer an unknown subcommand
// with a usage error (cobra would print the help and succeed).
func refuseUnknown(c *cobra.Command) {
	if !c.HasSubCommands() {
		return
	}
	if c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, as []string) error {
			if len(as) > 0 {
				return usagef("unknown command %q for %q", as[0], cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
	for _, s := range c.Commands() {
		refuseUnknown(s)
	}
}

// Group is the help group the CLI's commands are listed under.
func Group() *cobra.Group {
	return &cobra.Group{ID: "cli", Title: "Client commands (Photon CLI 1.2 grammar):"}
}

func (a *app) before(cmd *cobra.Command, _ []string) error {
	if a.g.output != "" && a.g.output != "json" {
		return usagef("output format %q: only json", a.g.output)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	a.cfg = cfg
	if a.g.detail {
		user := client.Subject(cfg.Token)
		fmt.Fprintf(a.out, "Target: %s\nUser: %s\nTenant: %s\nProject: %s\n", orDash(cfg.CloudTarget), orDash(user), orDash(nameOf(cfg.Tenant)), orDash(nameOf(cfg.Project)))
	}
	return nil
}

func nameOf(n *Named) string {
	if n == nil {
		return ""
	}
	return n.Name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// interactive tells whether the user can be asked.
func (a *app) interactive() bool { return !a.g.nonInteractive && a.stdinTTY }

func (a *app) json() bool { return a.g.output == "json" }

// client is the API client for the target in the config, with its tokens; new tokens
// from a refresh are written back to the config.
func (a *app) client() (*client.Client, error) {
	if a.cl != nil {
		return a.cl, nil
	}
	cl, err := a.newClient(true)
	if err != nil {
		return nil, err
	}
	a.cl = cl
	return cl, nil
}

// newClient is a client for the target in the config, with its CA; withTokens gives it
// the stored tokens and saves the new ones it gets.
func (a *app) newClient(withTokens bool) (*client.Client, error) {
	if a.cfg.CloudTarget == "" {
		return nil, usagef("no API target: run 'photon target set <url>' first")
	}
	o := client.Options{URL: a.cfg.CloudTarget, Insecure: a.cfg.IgnoreCertificate}
	if a.cfg.CAFile != "" {
		pool, err := loadCAs(a.cfg.CAFile)
		if err != nil {
			return nil, err
		}
		o.RootCAs = pool
	}
	if withTokens {
		o.Token, o.RefreshToken = a.cfg.Token, a.cfg.RefreshToken
		o.OnToken = func(t client.Token) {
			a.cfg.Token, a.cfg.RefreshToken = t.Access, t.Refresh
			if err := a.cfg.save(); err != nil {
				fmt.Fprintln(a.errw, "photon: warning: cannot save the refreshed token:", err)
			}
		}
	}
	cl, err := client.New(o)
	if err != nil {
		return nil, usageError{err}
	}
	return cl, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// Exit reports err on w and answers the process's exit code: 0 none, 2 a wrong command
// line, 1 anything else (an API error or a failed task, with its code and message).
func Exit(err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	var ue usageError
	var ae *client.APIError
	var tf *client.TaskFailed
	switch {
	case errors.As(err, &ue) || cobraUsage(err):
		fmt.Fprintln(w, "photon: "+err.Error())
		fmt.Fprintln(w, "Run 'photon help' or 'photon <command> --help' for usage.")
		return 2
	case errors.As(err, &tf):
		fmt.Fprintf(w, "photon: error: %s: %s (task %s, %s)\n", tf.Err.Code, tf.Err.Message, tf.Task.GetId(), tf.Task.GetOperation())
	case errors.As(err, &ae):
		fmt.Fprintf(w, "photon: error: %s: %s\n", ae.Code, ae.Message)
	default:
		fmt.Fprintln(w, "photon:", err)
	}
	return 1
}

// cobraUsage tells the errors cobra makes for a wrong command line.
func cobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// FlagError makes cobra's flag errors usage errors (root.SetFlagErrorFunc).
func FlagError(_ *cobra.Command, err error) error { return usageError{err} }

// args checks the number of positional arguments, as a usage error.
func args(n int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, as []string) error {
		if len(as) < n {
			return usagef("missing argument. Usage: photon %s", usage)
		}
		if len(as) > n {
			return usagef("unknown arguments %v. Usage: photon %s", as[n:], usage)
		}
		return nil
	}
}

// maxArgs allows up to n positional arguments.
func maxArgs(n int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, as []string) error {
		if len(as) > n {
			return usagef("unknown arguments %v. Usage: photon %s", as[n:], usage)
		}
		return nil
	}
}

// ctxT shortens the signatures of typed calls taken as values.
type ctxT = context.Context
