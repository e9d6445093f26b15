package operator

import (
	"cmp"
	"context"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"
)

// Dashboard is the operator's read-only web page: every Application with
// its sync and health status and revision, and, for one, its resource
// tree with each object's health (from the engine's watch cache) and the
// last pass's diff, Secret values masked as the diff package masks them.
// It writes nothing and takes no input but the path: GET / and GET
// /applications/NAMESPACE/NAME.
//
// The tree and the diff are what the engine holds in memory: after a
// restart they appear with each Application's first pass.
type Dashboard struct {
	// Reader lists Applications (the manager's cache).
	Reader client.Reader
	// Engine is the operator's reconciler.
	Engine *reconcile.Reconciler
	// Refresh reloads the page this often in a browser; 0 never.
	Refresh time.Duration
}

// appRow is one Application in the list.
type appRow struct {
	Namespace, Name string
	Sync, Health    string
	Revision        string
	Ready, Reason   string
	Message         string
}

// objectRow is one object of the resource tree.
type objectRow struct {
	Kind, Name string
	Health     string
	Message    string
	Action     string
}

// detail is one Application's page.
type detail struct {
	App        appRow
	Namespaces []treeNamespace
	Diffs      []objectDiff
	Ran        bool
	Finished   string
}

type treeNamespace struct {
	Name    string // "" for cluster-scoped objects
	Objects []objectRow
}

type objectDiff struct {
	Object, Action, Diff string
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
		return
	}
	// No script, no frames, nothing from elsewhere: the page only shows.
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == "/":
		d.list(w, r)
	case strings.HasPrefix(r.URL.Path, "/applications/"):
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/applications/"), "/")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			http.NotFound(w, r)
			return
		}
		d.show(w, r, parts[0], parts[1])
	default:
		http.NotFound(w, r)
	}
}

func (d *Dashboard) list(w http.ResponseWriter, r *http.Request) {
	var apps v1alpha1.ApplicationList
	if err := d.Reader.List(r.Context(), &apps); err != nil {
		http.Error(w, "cannot list Applications: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	rows := make([]appRow, 0, len(apps.Items))
	for i := range apps.Items {
		rows = append(rows, rowOf(&apps.Items[i]))
	}
	slices.SortFunc(rows, func(a, b appRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	d.render(w, "list", map[string]any{"Apps": rows, "Refresh": int(d.Refresh.Seconds())})
}

func (d *Dashboard) show(w http.ResponseWriter, r *http.Request, namespace, name string) {
	var app v1alpha1.Application
	if err := d.Reader.Get(r.Context(), client.ObjectKey{Namespace: namespace, Name: name}, &app); err != nil {
		http.Error(w, "no Application "+namespace+"/"+name, http.StatusNotFound)
		return
	}
	page := detail{App: rowOf(&app)}
	ref := reconcile.Ref{Namespace: namespace, Name: name}
	if s, ok := d.Engine.Status(ref); ok {
		page.Ran = true
		page.Finished = s.Finished.UTC().Format(time.RFC3339)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		objects, _ := d.Engine.ObjectHealth(ctx, ref)
		page.Namespaces = tree(objects, s.Result)
		page.Diffs = diffsOf(s.Result)
	}
	d.render(w, "show", map[string]any{"Page": page, "Refresh": int(d.Refresh.Seconds())})
}

func (d *Dashboard) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		// Headers are gone; the page ends where it failed.
		return
	}
}

func rowOf(app *v1alpha1.Application) appRow {
	row := appRow{Namespace: app.Namespace, Name: app.Name, Sync: cmp.Or(app.Status.Sync, "Unknown"),
		Health: cmp.Or(app.Status.Health, "Unknown"), Revision: cmp.Or(app.Status.LastAppliedRevision, app.Status.LastAttemptedRevision), Ready: "Unknown"}
	if c := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady); c != nil {
		row.Ready, row.Reason, row.Message = string(c.Status), c.Reason, c.Message
	}
	return row
}

// tree groups the objects by namespace, cluster-scoped first, with the
// last pass's action of each.
func tree(objects []health.ObjectResult, res *apply.Result) []treeNamespace {
	actions := map[string]string{}
	if res != nil {
		for _, o := range res.Objects {
			actions[o.ID.String()] = string(o.Action)
		}
	}
	byNS := map[string][]objectRow{}
	for _, o := range objects {
		kind := o.ID.Kind
		if o.ID.Group != "" {
			kind += "." + o.ID.Group
		}
		byNS[o.ID.Namespace] = append(byNS[o.ID.Namespace], objectRow{Kind: kind, Name: o.ID.Name,
			Health: string(o.Status), Message: o.Message, Action: actions[o.ID.String()]})
	}
	var out []treeNamespace
	for ns, rows := range byNS {
		slices.SortFunc(rows, func(a, b objectRow) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
		out = append(out, treeNamespace{Name: ns, Objects: rows})
	}
	slices.SortFunc(out, func(a, b treeNamespace) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// diffsOf are the last pass's diffs: Secret values come masked from the
// diff package, and nothing else of a Secret is shown.
func diffsOf(res *apply.Result) []objectDiff {
	if res == nil {
		return nil
	}
	var out []objectDiff
	for _, o := range res.Objects {
		if o.Diff == nil || o.Diff.Diff == "" {
			continue
		}
		out = append(out, objectDiff{Object: o.ID.String(), Action: string(o.Action), Diff: o.Diff.Diff})
	}
	return out
}

// pages are the dashboard's two pages. html/template escapes every value:
// an object name or a condition message cannot become markup.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>converge</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.healthy,.synced,.true{color:#1a7f37}.degraded,.outofsync,.false,.missing{color:#cf222e;font-weight:bold}
.progressing,.unknown,.suspended{color:#9a6700}pre{background:#f6f8fa;padding:.8em;overflow:auto}
</style></head><body>{{end}}

{{define "list"}}{{template "head" .}}
<h1>Applications</h1>
<table id="applications"><tr><th>Application</th><th>Sync</th><th>Health</th><th>Ready</th><th>Revision</th><th>Message</th></tr>
{{range .Apps}}<tr class="application" data-name="{{.Namespace}}/{{.Name}}" data-health="{{.Health}}">
<td><a href="/applications/{{.Namespace}}/{{.Name}}">{{.Namespace}}/{{.Name}}</a></td>
<td class="{{lower .Sync}}">{{.Sync}}</td><td class="{{lower .Health}}">{{.Health}}</td>
<td class="{{lower .Ready}}">{{.Ready}}{{if .Reason}} ({{.Reason}}){{end}}</td><td><code>{{.Revision}}</code></td><td>{{.Message}}</td></tr>
{{else}}<tr><td colspan="6">No Applications.</td></tr>{{end}}
</table></body></html>{{end}}

{{define "show"}}{{template "head" .}}{{with .Page}}
<p><a href="/">Applications</a></p>
<h1>{{.App.Namespace}}/{{.App.Name}}</h1>
<p>Sync <span class="{{lower .App.Sync}}">{{.App.Sync}}</span>, health <span class="{{lower .App.Health}}">{{.App.Health}}</span>,
revision <code>{{.App.Revision}}</code>{{if .Finished}}, last pass {{.Finished}}{{end}}.</p>
{{if .App.Message}}<p>{{.App.Message}}</p>{{end}}
<h2>Resources</h2>
{{if not .Ran}}<p>No pass has run since the operator started.</p>{{end}}
<ul id="tree">{{range .Namespaces}}<li>{{if .Name}}namespace {{.Name}}{{else}}cluster-scoped{{end}}<ul>
{{range .Objects}}<li class="object" data-health="{{.Health}}">{{.Kind}}/{{.Name}}: <span class="{{lower .Health}}">{{.Health}}</span>{{if .Action}} ({{.Action}}){{end}}{{if .Message}} — {{.Message}}{{end}}</li>{{end}}
</ul></li>{{end}}</ul>
<h2>Last diff</h2>
{{range .Diffs}}<h3>{{.Object}} ({{.Action}})</h3><pre>{{.Diff}}</pre>{{else}}<p>The last pass changed nothing.</p>{{end}}
{{end}}</body></html>{{end}}
`))
