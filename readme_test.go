package converge_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The READMEs whose ```go blocks must compile, relative to the module root.
var readmes = []string{"README.md", "examples/README.md"}

// givens are the values a README block may use without declaring them,
// as a host has them at hand: the block is the body of a function that
// takes these and returns an error. Anything else a block uses it
// declares itself, or the build fails.
const givens = "ctx context.Context, restConfig *rest.Config, client *cluster.Client, hook reconcile.Notifier, r io.Reader"

// packages are the import paths of the package names a block may use.
var packages = map[string]string{
	"bytes": "bytes", "context": "context", "errors": "errors", "fmt": "fmt", "fs": "io/fs", "io": "io",
	"log": "log", "os": "os", "filepath": "path/filepath", "strings": "strings", "time": "time",
	"logr":         "github.com/go-logr/logr",
	"rest":         "k8s.io/client-go/rest",
	"clientcmd":    "k8s.io/client-go/tools/clientcmd",
	"metav1":       "k8s.io/apimachinery/pkg/apis/meta/v1",
	"unstructured": "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured",
	"schema":       "k8s.io/apimachinery/pkg/runtime/schema",
	"object":       "github.com/converge-dev/converge/object",
	"source":       "github.com/converge-dev/converge/source",
	"git":          "github.com/converge-dev/converge/source/git",
	"dir":          "github.com/converge-dev/converge/source/dir",
	"render":       "github.com/converge-dev/converge/render",
	"kustomize":    "github.com/converge-dev/converge/render/kustomize",
	"plain":        "github.com/converge-dev/converge/render/plain",
	"helm":         "github.com/converge-dev/converge/render/helm",
	"cluster":      "github.com/converge-dev/converge/cluster",
	"diff":         "github.com/converge-dev/converge/diff",
	"apply":        "github.com/converge-dev/converge/apply",
	"health":       "github.com/converge-dev/converge/health",
	"reconcile":    "github.com/converge-dev/converge/reconcile",
	"argocd":       "github.com/converge-dev/converge/reconcile/argocd",
	"flux":         "github.com/converge-dev/converge/reconcile/flux",
	"notify":       "github.com/converge-dev/converge/reconcile/notify",
	"secrets":      "github.com/converge-dev/converge/secrets",
	"sops":         "github.com/converge-dev/converge/secrets/sops",
	"sealed":       "github.com/converge-dev/converge/secrets/sealed",
	"vault":        "github.com/converge-dev/converge/secrets/vault",
	"rand":         "crypto/rand",
	"rollout":      "github.com/converge-dev/converge/rollout",
	"analysis":     "github.com/converge-dev/converge/rollout/analysis",
	"prometheus":   "github.com/converge-dev/converge/rollout/analysis/prometheus",
}

// goBlock is one ```go block of a README.
type goBlock struct {
	file string // README path, relative to the module root
	line int    // line of the block's first line of code
	code string
}

// TestReadmeGoBlocksCompile compiles every ```go block of the READMEs
// against the SDK as it is, in one go build: each block becomes the body
// of a function (see givens) in a package of a temporary module that
// replaces the SDK with this checkout. Compiler errors name the README's
// own lines.
func TestReadmeGoBlocksCompile(t *testing.T) {
	var blocks []goBlock
	for _, name := range readmes {
		bs, err := readGoBlocks(name)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	if n := countIn(blocks, "README.md"); n == 0 {
		t.Fatal("README.md has no ```go blocks: the extraction is broken")
	}
	out, err := compileBlocks(t, blocks)
	if err != nil {
		t.Fatalf("README code does not compile (%v):\n%s", err, out)
	}
	t.Logf("%d blocks compile", len(blocks))
}

// TestReadmeCheckFailsOnAnUnknownName makes sure the check above can
// fail, and says where.
func TestReadmeCheckFailsOnAnUnknownName(t *testing.T) {
	out, err := compileBlocks(t, []goBlock{{file: "README.md", line: 7, code: "set, err := kustomize.New().Render(ctx, snapshot.FS(), \"apps\", render.DefaultOptions())\n_ = set\n"}})
	if err == nil {
		t.Fatal("a block naming an undefined variable compiled")
	}
	if !strings.Contains(out, "README.md:7") || !strings.Contains(out, "undefined: snapshot") {
		t.Fatalf("the error does not name README.md:7 and the undefined name:\n%s", out)
	}
}

func countIn(blocks []goBlock, file string) int {
	n := 0
	for _, b := range blocks {
		if b.file == file {
			n++
		}
	}
	return n
}

// readGoBlocks returns the ```go blocks of a Markdown file.
func readGoBlocks(name string) ([]goBlock, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var (
		blocks []goBlock
		cur    *goBlock
		code   strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && fence == "```go":
			cur = &goBlock{file: filepath.ToSlash(name), line: n + 1}
			code.Reset()
		case cur != nil && fence == "```":
			cur.code = code.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			code.WriteString(line + "\n")
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a ```go block is not closed", name, cur.line-1)
	}
	return blocks, sc.Err()
}

// compileBlocks builds the blocks in a temporary module and returns the
// build's output.
func compileBlocks(t *testing.T, blocks []goBlock) (string, error) {
	t.Helper()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the README's code: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod(t, root)), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		src, err := blockFile(i, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("block%02d.go", i)), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "build", "./...")
	cmd.Dir = dir
	// The module proxy as the environment has it; the SDK's own
	// requirements resolve from the module cache, with its go.sum.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// goMod is the temporary module's go.mod: the SDK, replaced by this
// checkout, and the SDK's own requirements, so that nothing new is
// resolved.
func goMod(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\nrequire")
	if i < 0 {
		t.Fatal("go.mod has no require block")
	}
	goLine := "go 1.26.0"
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "go ") {
			goLine = l
		}
	}
	return fmt.Sprintf("module readmecheck\n\n%s\n\nrequire github.com/converge-dev/converge v0.0.0\n\nreplace github.com/converge-dev/converge => %s\n%s",
		goLine, root, text[i:])
}

// blockFile wraps a block in a function of package readme, with a line
// directive so that errors name the README's lines, and imports the
// packages it names.
func blockFile(i int, b goBlock) (string, error) {
	var body strings.Builder
	fmt.Fprintf(&body, "func block%02d(%s) error {\n\t{\n\t\tvar err error\n", i, givens)
	fmt.Fprintf(&body, "//line %s:%d\n%s", b.file, b.line, b.code)
	fmt.Fprintf(&body, "//line %s:%d\n\t\t_ = err\n\t}\n\treturn nil\n}\n", filepath.Base(b.file)+".after", 1)
	// The names a block uses but does not declare are its packages.
	f, err := parser.ParseFile(token.NewFileSet(), b.file, "package readme\n"+body.String(), 0)
	if err != nil {
		return "", fmt.Errorf("%s:%d: the block does not parse as statements: %v", b.file, b.line, err)
	}
	var imports []string
	for _, id := range f.Unresolved {
		if p, ok := packages[id.Name]; ok && !slices.Contains(imports, p) {
			imports = append(imports, p)
		}
	}
	slices.Sort(imports)
	var src strings.Builder
	fmt.Fprintf(&src, "// Code generated by TestReadmeGoBlocksCompile from %s. DO NOT EDIT.\n\npackage readme\n\nimport (\n", b.file)
	for _, p := range imports {
		fmt.Fprintf(&src, "\t%q\n", p)
	}
	src.WriteString(")\n\n" + body.String())
	return src.String(), nil
}
