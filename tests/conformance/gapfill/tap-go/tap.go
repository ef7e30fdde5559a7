// Package tap is a minimal TAP version 13 producer with the API the
// opencontainers/runtime-tools validation suite expects from
// github.com/mndrix/tap-go, which Debian does not package. Written for the
// Berth conformance harness; it only emits the TAP lines the harness counts.
package tap

import (
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v2"
)

// T is one TAP stream.
type T struct {
	nextTestNumber *int
	todo           bool
	// Writer receives the TAP stream; stdout by default.
	Writer io.Writer
}

// New starts a TAP stream on stdout.
func New() *T {
	n := 1
	return &T{nextTestNumber: &n, Writer: os.Stdout}
}

func (t *T) printf(format string, a ...interface{}) {
	fmt.Fprintf(t.Writer, format, a...)
}

// Header prints the version line and, when testCount > 0, the plan.
func (t *T) Header(testCount int) {
	t.printf("TAP version 13\n")
	if testCount > 0 {
		t.printf("1..%d\n", testCount)
	}
}

// Ok records one test point.
func (t *T) Ok(test bool, description string) {
	status := "ok"
	if !test {
		status = "not ok"
	}
	directive := ""
	if t.todo {
		directive = " # TODO"
	}
	description = strings.ReplaceAll(description, "\n", " ")
	t.printf("%s %d - %s%s\n", status, *t.nextTestNumber, description, directive)
	*t.nextTestNumber++
}

// Pass records a passing test point.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail records a failing test point.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip records count skipped test points.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		t.printf("ok %d # SKIP %s\n", *t.nextTestNumber, strings.ReplaceAll(description, "\n", " "))
		*t.nextTestNumber++
	}
}

// Todo returns a view of the stream whose test points carry the TODO directive.
func (t *T) Todo() *T {
	return &T{nextTestNumber: t.nextTestNumber, todo: true, Writer: t.Writer}
}

// Count is the number of test points emitted so far.
func (t *T) Count() int { return *t.nextTestNumber - 1 }

// AutoPlan prints the trailing plan for the points emitted so far.
func (t *T) AutoPlan() { t.printf("1..%d\n", t.Count()) }

// Diagnostic prints a comment line per line of message.
func (t *T) Diagnostic(message string) {
	for _, line := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.printf("# %s\n", line)
	}
}

// Diagnosticf is Diagnostic with formatting.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML prints message as an indented YAML block attached to the last point.
func (t *T) YAML(message interface{}) error {
	out, err := yaml.Marshal(message)
	if err != nil {
		return err
	}
	t.printf("  ---\n")
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.printf("  %s\n", line)
	}
	t.printf("  ...\n")
	return nil
}
