// Package lazyregexp is a regexp compiled on first use. Every berth process
// runs every package's initialisers (one binary holds the control plane and
// the agent), so a package-level regexp.MustCompile in, say, the ECS API's
// validation costs the agent memory and start-up time although it never
// validates a request; bounded repetitions like {1,255} compile to large
// programs.
//
// It must not import other Berth packages.
package lazyregexp

import (
	"regexp"
	"sync"
)

// Regexp is a *regexp.Regexp compiled by the first method call.
type Regexp struct {
	re func() *regexp.Regexp
}

// New returns a Regexp for pattern. An invalid pattern panics on first use,
// like regexp.MustCompile at init; tests that use each pattern catch it.
func New(pattern string) *Regexp {
	return &Regexp{re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })}
}

// Regexp compiles the pattern if needed and returns it.
func (r *Regexp) Regexp() *regexp.Regexp { return r.re() }

// MatchString is regexp.Regexp.MatchString.
func (r *Regexp) MatchString(s string) bool { return r.re().MatchString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (r *Regexp) FindStringSubmatch(s string) []string { return r.re().FindStringSubmatch(s) }

// FindStringIndex is regexp.Regexp.FindStringIndex.
func (r *Regexp) FindStringIndex(s string) []int { return r.re().FindStringIndex(s) }

// String is the pattern.
func (r *Regexp) String() string { return r.re().String() }
