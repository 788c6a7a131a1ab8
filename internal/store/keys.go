package store

import (
	"strings"
)

// Root is the prefix of every key Berth writes.
const Root = "/berth/"

// Key joins parts with "/" under Root:
//
//	Key("000000000000", "us-east-1", "ecs", "clusters", "default")
//	  == "/berth/000000000000/us-east-1/ecs/clusters/default"
//
// Each part is escaped with EscapePart, so parts may contain '/' (ARNs do) and
// keys stay unambiguous: a part never spans two path segments. An empty part
// is a programming error and panics (validate names before building keys).
func Key(parts ...string) string {
	var b strings.Builder
	n := len(Root)
	for _, p := range parts {
		n += len(p) + 1
	}
	b.Grow(n)
	b.WriteString(Root)
	for i, p := range parts {
		if p == "" {
			panic("store: Key: empty part")
		}
		if i > 0 {
			b.WriteByte('/')
		}
		writeEscaped(&b, p)
	}
	return b.String()
}

// Prefix is Key(parts...) + "/": the prefix under which the children of
// Key(parts...) live, for List and Cache. Prefix() is Root.
func Prefix(parts ...string) string {
	if len(parts) == 0 {
		return Root
	}
	return Key(parts...) + "/"
}

// EscapePart escapes '%' and '/' in a key part as %25 and %2F (the rest is
// kept readable, e.g. the ':' of ARNs).
func EscapePart(p string) string {
	if !strings.ContainsAny(p, "%/") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	writeEscaped(&b, p)
	return b.String()
}

func writeEscaped(b *strings.Builder, p string) {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%':
			b.WriteString("%25")
		case '/':
			b.WriteString("%2F")
		default:
			b.WriteByte(c)
		}
	}
}

// UnescapePart reverses EscapePart. It reports false for a malformed escape.
func UnescapePart(p string) (string, bool) {
	if !strings.Contains(p, "%") {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if len(p)-i < 3 {
			return "", false
		}
		switch p[i+1 : i+3] {
		case "25":
			b.WriteByte('%')
		case "2F", "2f":
			b.WriteByte('/')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// SplitKey returns the unescaped parts of a key made by Key, or false if key
// is not under Root or is malformed.
func SplitKey(key string) ([]string, bool) {
	rest, ok := strings.CutPrefix(key, Root)
	if !ok || rest == "" {
		return nil, false
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		if p == "" {
			return nil, false
		}
		u, ok := UnescapePart(p)
		if !ok {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// LastPart returns the unescaped last part of key (the object's name or id),
// or "" if the key is malformed.
func LastPart(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i < 0 || i == len(key)-1 {
		return ""
	}
	u, ok := UnescapePart(key[i+1:])
	if !ok {
		return ""
	}
	return u
}
