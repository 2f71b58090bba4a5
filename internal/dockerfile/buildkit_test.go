package dockerfile

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// buildkitProblems parses a Dockerfile as BuildKit does (the parser, then each instruction with
// the default lint rules) and returns every error and warning.
func buildkitProblems(df []byte) []string {
	res, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var problems []string
	for _, w := range res.Warnings {
		problems = append(problems, fmt.Sprintf("line %d: %s", w.Location.Start.Line, w.Short))
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		problems = append(problems, fmt.Sprintf("line %d: %s: %s", line, rule, msg))
	}})
	if _, _, err := instructions.Parse(res.AST, lint); err != nil {
		problems = append(problems, "instructions: "+err.Error())
	}
	return problems
}

// TestBuildKitParses feeds each Dockerfile.fat the tests make (whole images and every created_by
// case) to BuildKit's Dockerfile parser: it must read them without an error or a warning.
func TestBuildKitParses(t *testing.T) {
	type dockerfile struct {
		name string
		cfg  testConfig
		hist []testStep
	}
	var all []dockerfile
	for _, c := range images {
		all = append(all, dockerfile{c.name, c.cfg, c.history})
	}
	for _, c := range createdBy {
		var hist []testStep
		for _, s := range c.steps {
			hist = append(hist, testStep{CreatedBy: s, EmptyLayer: true})
		}
		all = append(all, dockerfile{"created_by " + c.name, testConfig{}, hist})
	}
	for _, c := range all {
		t.Run(c.name, func(t *testing.T) {
			b, err := Reverse(testImage(c.cfg, c.hist))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range buildkitProblems(b) {
				t.Errorf("BuildKit: %s", p)
			}
			if t.Failed() {
				t.Logf("Dockerfile:\n%s", b)
			}
		})
	}
}

// TestBuildKitProblems checks that the check above sees errors and warnings.
func TestBuildKitProblems(t *testing.T) {
	for _, tc := range []struct{ name, df string }{
		{"empty continuation line", "FROM scratch\nRUN a \\\n\n  b\n"},
		{"ENV without a value", "FROM scratch\nENV A\n"},
		{"bad HEALTHCHECK flag", "FROM scratch\nHEALTHCHECK --interval=often CMD true\n"},
		{"MAINTAINER", "FROM scratch\nMAINTAINER me\n"},
		{"unknown instruction", "FROM scratch\nFETCH x\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p := buildkitProblems([]byte(tc.df)); len(p) == 0 {
				t.Errorf("no problem found in\n%s", tc.df)
			}
		})
	}
}
