package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
)

// progressShown prints a pass as it goes: a line per object written and
// the health wait when what it waits for changes.
type progressShown struct {
	out     *output
	verbose bool
	on      bool // off for plans and machine-readable output

	mu        sync.Mutex
	start     time.Time
	lastWait  string
	lastPrint time.Time
}

func newProgressShown(out *output, verbose, on bool) *progressShown {
	return &progressShown{out: out, verbose: verbose, on: on, start: time.Now()}
}

func (p *progressShown) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start, p.lastWait = time.Now(), ""
}

func (p *progressShown) since() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("(%s)", time.Since(p.start).Round(10*time.Millisecond))
}

// object prints one handled object; plans print their own lines.
func (p *progressShown) object(_ reconcile.Ref, e apply.Event) {
	if !p.on || e.Action == apply.Unchanged && !p.verbose {
		return
	}
	if e.Action == apply.Skipped && e.Phase != apply.PhaseSync && !p.verbose {
		return // a hook that had nothing to run for
	}
	line := fmt.Sprintf("  %-11s %s", strings.ToLower(string(e.Action)), e.ID)
	if e.Phase != apply.PhaseSync && e.Phase != apply.PhasePrune && e.Phase != "" {
		line += fmt.Sprintf(" (%s hook)", e.Phase)
	}
	if e.Err != nil {
		line += ": " + oneLine(e.Err.Error())
	}
	p.out.printf("%s  %s", line, p.since())
}

// health prints the wait when the objects it waits for change, at most
// every two seconds otherwise.
func (p *progressShown) health(_ reconcile.Ref, pr health.Progress) {
	if !p.on {
		return
	}
	text := pr.String()
	p.mu.Lock()
	changed := text != p.lastWait && (time.Since(p.lastPrint) > 2*time.Second || pr.Ready == pr.Total || p.lastWait == "")
	if changed {
		p.lastWait, p.lastPrint = text, time.Now()
	}
	p.mu.Unlock()
	if changed && pr.Total > 0 {
		p.out.printf("  %-11s %s  %s", "waiting", text, p.since())
	}
}

var planMarks = map[apply.Action]string{
	apply.Created: "+ create", apply.Configured: "~ update", apply.Recreated: "~ recreate",
	apply.Pruned: "- prune", apply.Kept: "= keep", apply.Skipped: "  skip", apply.Failed: "! failed",
}

// printPlan lists what would change, diffs included.
func printPlan(out *output, s *session, st reconcile.Status) {
	res := st.Result
	out.printf("plan: %s at %s (%s) on %s, owner %s", describeUnit(s, st.Unit), shortRevision(st.Revision),
		plural(objectsIn(res), "object", "objects"), s.client.Config().Host, st.Unit)
	if res == nil {
		return
	}
	for _, o := range res.Objects {
		mark, ok := planMarks[o.Action]
		if !ok && !(s.flags.verbose && o.Action == apply.Unchanged) {
			continue
		}
		if !ok {
			mark = "  unchanged"
		}
		line := fmt.Sprintf("  %-10s %s", mark, o.ID)
		if o.Phase != apply.PhaseSync && o.Phase != apply.PhasePrune && o.Phase != "" {
			line += fmt.Sprintf(" (%s hook)", o.Phase)
		}
		if o.Reason != "" {
			line += " (" + o.Reason + ")"
		}
		if o.Err != nil {
			line += ": " + oneLine(o.Err.Error())
		}
		out.printf("%s", line)
		if (o.Action == apply.Configured || o.Action == apply.Recreated) && o.Diff != nil {
			out.block("      ", o.Diff.Diff)
		}
	}
	if res.PruneSkipped != "" {
		out.printf("  prune skipped: %s", res.PruneSkipped)
	}
	out.printf("Plan: %d to create, %d to update, %d to prune, %d unchanged.",
		res.Count(apply.Created), res.Count(apply.Configured)+res.Count(apply.Recreated), res.Count(apply.Pruned), res.Count(apply.Unchanged))
}

// countChanges counts what a plan would create, update or prune.
func countChanges(res *apply.Result) int {
	if res == nil {
		return 0
	}
	return res.Count(apply.Created) + res.Count(apply.Configured) + res.Count(apply.Recreated) + res.Count(apply.Pruned)
}

func objectsIn(res *apply.Result) int {
	if res == nil {
		return 0
	}
	n := 0
	for _, o := range res.Objects {
		if o.Phase == apply.PhaseSync {
			n++
		}
	}
	return n
}

// printApplied prints an apply's diffs, its table and its summary.
func printApplied(out *output, s *session, st reconcile.Status) {
	if st.Result == nil {
		return
	}
	printDiffs(out, st.Result)
	printTable(out, st)
	out.printf("Apply %s: %s", st.Unit, summary(st))
}

func printDiffs(out *output, res *apply.Result) {
	for _, o := range res.Objects {
		if o.Diff == nil || o.Diff.Diff == "" || (o.Action != apply.Configured && o.Action != apply.Recreated) {
			continue
		}
		out.printf("  ~ %s", o.ID)
		out.block("      ", o.Diff.Diff)
	}
}

// summary is the one-line outcome: counts, health, writes, time.
func summary(st reconcile.Status) string {
	res := st.Result
	text := res.String()
	if res.Health != nil {
		total, healthy := len(res.Health.Results), 0
		for _, h := range res.Health.Results {
			if h.Status == health.Healthy {
				healthy++
			}
		}
		if healthy == total {
			text += fmt.Sprintf("; all %d healthy", total)
		} else {
			text += fmt.Sprintf("; %d of %d healthy (%s)", healthy, total, res.Health.Status)
		}
	} else if st.Health != "" {
		text += "; " + strings.ToLower(string(st.Health))
	}
	if res.PruneSkipped != "" {
		text += "; prune skipped: " + res.PruneSkipped
	}
	return text + fmt.Sprintf("; %s in %s.", plural(res.Writes, "write", "writes"), res.Duration.Round(10*time.Millisecond))
}

// printTable prints one row per object: what happened, its health, and how
// long it took; a hook is marked with its phase. Sets of more than 50
// objects list only what changed.
func printTable(out *output, st reconcile.Status) {
	res := st.Result
	healthOf := map[object.ID]health.Status{}
	if res.Health != nil {
		for _, h := range res.Health.Results {
			healthOf[h.ID] = h.Status
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tACTION\tHEALTH\tTIME")
	hidden := 0
	for _, o := range res.Objects {
		if len(res.Objects) > 50 && o.Action == apply.Unchanged {
			hidden++
			continue
		}
		action := string(o.Action)
		if o.Phase != apply.PhaseSync && o.Phase != apply.PhasePrune && o.Phase != "" {
			action += " (" + string(o.Phase) + " hook)"
		}
		h := "-"
		if s, ok := healthOf[o.ID]; ok && o.Phase == apply.PhaseSync {
			h = string(s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ID, action, h, o.Duration.Round(time.Millisecond))
	}
	_ = tw.Flush()
	out.printf("")
	out.block("", b.String())
	if hidden > 0 {
		out.printf("(%s not listed)", plural(hidden, "unchanged object", "unchanged objects"))
	}
}

// printTick prints one pass of sync: one line when it changed nothing.
func printTick(s *session, n int, st reconcile.Status) {
	if s.flags.output == "json" {
		b, _ := json.Marshal(toJSON(st)) // one line per pass, for a script to follow
		s.out.printf("%s", b)
		return
	}
	at := st.Finished.Format("15:04:05")
	head := fmt.Sprintf("pass %d of %s at %s: %s", n, st.Unit, at, shortRevision(st.Revision))
	switch {
	case st.Err != nil:
		s.out.printf("%s: %s", head, oneLine(failure([]reconcile.Status{st}, st.Err).Error()))
	case st.Result == nil:
		s.out.printf("%s: %s", head, condition(st))
	case st.Result.Writes == 0:
		s.out.printf("%s: %s", head, summary(st))
	default:
		s.out.printf("%s:", head)
		printDiffs(s.out, st.Result)
		s.out.printf("  %s", summary(st))
	}
}

func condition(st reconcile.Status) string {
	if c := st.Condition(reconcile.ConditionReady); c != nil {
		return c.Reason + ": " + c.Message
	}
	return string(st.Sync)
}

func printDeleted(out *output, u reconcile.Unit, res *apply.Result) {
	for _, o := range res.Objects {
		if o.Phase != apply.PhasePrune {
			continue
		}
		line := fmt.Sprintf("  %-8s %s", strings.ToLower(string(o.Action)), o.ID)
		if o.Reason != "" {
			line += " (" + o.Reason + ")"
		}
		if o.Err != nil {
			line += ": " + oneLine(o.Err.Error())
		}
		out.printf("%s", line)
	}
	out.printf("Delete %s: %s; %s in %s.", u.Ref(), res.String(), plural(res.Writes, "write", "writes"), res.Duration.Round(10*time.Millisecond))
}

// jsonStatus is what --output json prints per application.
type jsonStatus struct {
	Unit                string       `json:"unit"`
	Revision            string       `json:"revision,omitempty"`
	LastAppliedRevision string       `json:"lastAppliedRevision,omitempty"`
	Sync                string       `json:"sync"`
	Health              string       `json:"health"`
	Conditions          any          `json:"conditions"`
	Objects             []jsonObject `json:"objects"`
	PruneSkipped        string       `json:"pruneSkipped,omitempty"`
	Writes              int          `json:"writes"`
	Error               string       `json:"error,omitempty"`
}

type jsonObject struct {
	ID     string `json:"id"`
	Phase  string `json:"phase,omitempty"`
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
	Health string `json:"health,omitempty"`
	Diff   string `json:"diff,omitempty"`
	Error  string `json:"error,omitempty"`
}

// printJSON prints the statuses as one JSON document: a list, one entry
// per application. Diffs are the engine's, Secret values masked.
func printJSON(out *output, statuses []reconcile.Status, err error) {
	doc := make([]jsonStatus, 0, len(statuses))
	for _, st := range statuses {
		doc = append(doc, toJSON(st))
	}
	if len(doc) == 0 && err != nil {
		doc = append(doc, jsonStatus{Error: oneLine(err.Error()), Objects: []jsonObject{}})
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	out.printf("%s", b)
}

func toJSON(st reconcile.Status) jsonStatus {
	js := jsonStatus{Unit: st.Unit.String(), Revision: st.Revision, LastAppliedRevision: st.LastAppliedRevision,
		Sync: string(st.Sync), Health: string(st.Health), Conditions: st.Conditions, Objects: []jsonObject{}}
	if st.Err != nil {
		js.Error = oneLine(st.Err.Error())
	}
	res := st.Result
	if res == nil {
		return js
	}
	js.PruneSkipped, js.Writes = res.PruneSkipped, res.Writes
	healthOf := map[object.ID]health.Status{}
	if res.Health != nil {
		for _, h := range res.Health.Results {
			healthOf[h.ID] = h.Status
		}
	}
	for _, o := range res.Objects {
		jo := jsonObject{ID: o.ID.String(), Phase: string(o.Phase), Action: string(o.Action), Reason: o.Reason, Health: string(healthOf[o.ID])}
		if o.Diff != nil && o.Action != apply.Unchanged {
			jo.Diff = o.Diff.Diff
		}
		if o.Err != nil {
			jo.Error = oneLine(o.Err.Error())
		}
		js.Objects = append(js.Objects, jo)
	}
	return js
}

func describeUnit(s *session, ref reconcile.Ref) string {
	for _, u := range s.app.units {
		if u.Ref() == ref {
			return describeSource(u)
		}
	}
	return ref.String()
}

func describeSource(u reconcile.Unit) string {
	if u.Path == "" || u.Path == "." {
		return "the root"
	}
	return u.Path
}

// plural says "1 object", "2 objects".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
