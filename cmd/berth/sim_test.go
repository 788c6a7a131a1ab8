package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestSimSmoke(t *testing.T) {
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"sim", "--instances", "12", "--tasks", "95", "--clients", "4"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("berth sim: %v\n%s", err, errOut.String())
	}
	line := out.String()
	t.Log(line)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`95 of 95 tasks placed on 12 instances`),
		regexp.MustCompile(`\d+ placements/s`),
		regexp.MustCompile(`p50 \S+ p99 \S+`),
		regexp.MustCompile(`us-east-1a \d+ / us-east-1b \d+ / us-east-1c \d+ \(max-min [01]\)`),
		regexp.MustCompile(`\d+% memory`),
		regexp.MustCompile(`store transaction \d+% of placement time`),
	} {
		if !want.MatchString(line) {
			t.Errorf("summary lacks %s: %s", want, line)
		}
	}
	if !strings.Contains(errOut.String(), "instances connected") {
		t.Errorf("no progress output: %s", errOut.String())
	}
}
