package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/gateway/rest"
)

// ask fills *v from the terminal when it is empty and the user can be asked; a value
// still empty after that is a usage error when required.
func (a *app) ask(v *string, prompt string, required bool) error {
	if *v == "" && a.interactive() {
		fmt.Fprint(a.errw, prompt+": ")
		line, err := a.reader().ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		*v = strings.TrimSpace(line)
	}
	if *v == "" && required {
		return usagef("%s is required", strings.ToLower(prompt))
	}
	return nil
}

// confirmed asks "Are you sure [y/n]?" before a change Photon's CLI asked about (a
// system setting); without a terminal, with -n or -o json it is taken as yes. A no
// prints "OK. Canceled" and the command ends with exit code 0, as Photon's did.
func (a *app) confirmed() (bool, error) {
	if !a.interactive() || a.json() {
		return true, nil
	}
	fmt.Fprint(a.errw, "Are you sure [y/n]? ")
	line, err := a.reader().ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	if s := strings.ToLower(strings.TrimSpace(line)); s == "y" || s == "yes" {
		return true, nil
	}
	fmt.Fprintln(a.out, "OK. Canceled")
	return false, nil
}

// askSecret is ask without echo, for passwords.
func (a *app) askSecret(v *string, prompt string) error {
	if *v == "" && a.interactive() {
		fmt.Fprint(a.errw, prompt+": ")
		b, err := term.ReadPassword(0)
		fmt.Fprintln(a.errw)
		if err != nil {
			return err
		}
		*v = string(b)
	}
	if *v == "" {
		return usagef("%s is required", strings.ToLower(prompt))
	}
	return nil
}

// reader is the one buffered reader of a.in, kept so that answers typed ahead are not
// lost between questions.
func (a *app) reader() *bufio.Reader {
	if a.rd == nil {
		a.rd = bufio.NewReader(a.in)
	}
	return a.rd
}

// emitJSON writes v (a message, a slice of messages, or a plain value) as the API
// writes it.
func (a *app) emitJSON(v any) error {
	b, err := rest.Marshaler{}.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.out, "%s\n", b)
	return err
}

// table prints rows: with a header and a total by default, tab-separated without
// either with -n; with -o json, items (the API's objects) instead.
func (a *app) table(items any, header []string, rows [][]string) error {
	if a.json() {
		return a.emitJSON(items)
	}
	if a.g.nonInteractive {
		for _, r := range rows {
			fmt.Fprintln(a.out, strings.Join(r, "\t"))
		}
		return nil
	}
	w := tabwriter.NewWriter(a.out, 4, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "\nTotal: %d\n", len(rows))
	return nil
}

// kv is one "Key: value" line of an object shown.
type kv struct{ k, v string }

// show prints one object: "Title ID" then "  Key: value" lines by default; its values
// tab-separated on one line with -n; the API's object with -o json.
func (a *app) show(obj any, title string, fields []kv) error {
	if a.json() {
		return a.emitJSON(obj)
	}
	if a.g.nonInteractive {
		vals := make([]string, len(fields))
		for i, f := range fields {
			vals[i] = f.v
		}
		_, err := fmt.Fprintln(a.out, strings.Join(vals, "\t"))
		return err
	}
	w := tabwriter.NewWriter(a.out, 4, 4, 1, ' ', 0)
	for i, f := range fields {
		if i == 0 {
			fmt.Fprintf(w, "%s: %s\n", title, f.v)
			continue
		}
		fmt.Fprintf(w, "  %s:\t%s\n", f.k, f.v)
	}
	return w.Flush()
}

// run waits on the task a call started, drawing its progress, then prints what Photon's
// CLI printed: the entity's id with -n, the entity (read with get) with -o json, else
// "OPERATION completed for 'kind' entity ID".
func (a *app) run(ctx context.Context, t *pb.Task, err error, get getter) (*pb.Task, error) {
	if err != nil {
		return t, err
	}
	t, err = a.wait(ctx, t)
	if err != nil {
		return t, err
	}
	id := t.GetEntity().GetId()
	switch {
	case a.json():
		if get == nil || id == "" {
			return t, a.emitJSON(t)
		}
		obj, err := get(ctx, id)
		if err != nil {
			return t, err
		}
		return t, a.emitJSON(obj)
	case a.g.nonInteractive:
		fmt.Fprintln(a.out, id)
	default:
		fmt.Fprintf(a.out, "%s completed for '%s' entity %s\n", t.GetOperation(), t.GetEntity().GetKind(), id)
	}
	return t, nil
}

// wait waits on t with a progress display fit for where stderr goes.
func (a *app) wait(ctx context.Context, t *pb.Task) (*pb.Task, error) {
	cl, err := a.client()
	if err != nil {
		return t, err
	}
	if client.Done(t) {
		if f := client.Failure(t); f != nil {
			return t, f
		}
		return t, nil
	}
	p := &progress{w: a.errw, live: a.stderrTTY && !a.g.nonInteractive && !a.json(), quiet: a.g.nonInteractive || a.json(), start: time.Now(), seen: map[string]bool{}}
	t, err = cl.Wait(ctx, t.GetId(), p.update)
	p.end()
	return t, err
}

// progress draws a task as it runs: each step once it completes (or fails), and the
// step in flight; for a bulk create a bar with its counts. live redraws one line on a
// terminal; otherwise each change is a plain line.
type progress struct {
	w           io.Writer
	live, quiet bool
	start       time.Time
	seen        map[string]bool
	drawn       bool
	lastLine    string
}

func (p *progress) update(t *pb.Task) {
	if p.quiet {
		return
	}
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	for _, s := range t.GetSteps() {
		if (s.GetState() == "COMPLETED" || s.GetState() == "ERROR") && !p.seen[s.GetOperation()] {
			p.seen[s.GetOperation()] = true
			mark := "done"
			if s.GetState() == "ERROR" {
				mark = "failed"
			}
			fmt.Fprintf(p.w, "  %-28s %s\n", s.GetOperation(), mark)
		}
	}
	line := p.status(t)
	if p.live {
		fmt.Fprint(p.w, line)
		p.drawn = true
	} else if line != p.lastLine && !client.Done(t) {
		fmt.Fprintln(p.w, line)
	}
	p.lastLine = line
}

func (p *progress) status(t *pb.Task) string {
	el := time.Since(p.start).Round(time.Second)
	if pr := t.GetProgress(); pr != nil && pr.GetTotal() > 0 {
		const width = 30
		done := int(pr.GetCompleted() + pr.GetFailed())
		n := done * width / int(pr.GetTotal())
		return fmt.Sprintf("%s [%s%s] %d/%d completed, %d failed, %d in flight (%s)", t.GetOperation(),
			strings.Repeat("=", n), strings.Repeat(" ", width-n), pr.GetCompleted(), pr.GetTotal(), pr.GetFailed(), pr.GetInFlight(), el)
	}
	for _, s := range t.GetSteps() {
		if s.GetState() == "STARTED" {
			return fmt.Sprintf("%s: %s, step %d/%d (%s)", t.GetOperation(), s.GetOperation(), s.GetSequence()+1, len(t.GetSteps()), el)
		}
	}
	return fmt.Sprintf("%s: %s (%s)", t.GetOperation(), t.GetState(), el)
}

func (p *progress) end() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func join(s []string) string { return strings.Join(s, ",") }

func quotaItems(items []*pb.QuotaLineItem) string {
	var out []string
	for _, q := range items {
		out = append(out, fmt.Sprintf("%s:%g:%s", q.GetKey(), q.GetValue(), q.GetUnit()))
	}
	return strings.Join(out, ",")
}

func millis(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05")
}

// getter reads an entity by id, for run's -o json.
type getter = func(context.Context, string) (proto.Message, error)

// startTask gets the client, starts a task with it and runs the task (see run); get,
// when not nil, names the getter of the task's entity.
func (a *app) startTask(cmd *cobra.Command, start func(*client.Client) (*pb.Task, error), get func(*client.Client) getter) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	t, err := start(cl)
	var g getter
	if get != nil {
		g = get(cl)
	}
	_, err = a.run(cmd.Context(), t, err, g)
	return err
}
