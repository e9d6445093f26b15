package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// output serializes what the commands print: results and progress lines on
// stdout, local control plane messages and errors on stderr. Progress
// callbacks run on several goroutines, so every write takes the lock.
type output struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
}

func newOutput(stdout, stderr io.Writer) *output {
	return &output{stdout: stdout, stderr: stderr}
}

// printf writes one line to stdout.
func (o *output) printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stdout, format+"\n", args...)
}

// block writes text to stdout, each line indented.
func (o *output) block(indent, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintln(o.stdout, indent+line)
	}
}

// progressf writes one line to stderr: news about the tool itself.
func (o *output) progressf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, format+"\n", args...)
}

// errorf writes the one line a failure ends with.
func (o *output) errorf(format string, args ...any) {
	o.progressf(format, args...)
}
