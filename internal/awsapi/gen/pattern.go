package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// goPattern translates a model pattern (Java regular expression syntax, as AWS
// services evaluate them) into a Go RE2 pattern that must match the whole
// value, and compiles it to prove Go accepts it. Java-only syntax RE2 lacks
// (lookaround, possessive quantifiers, backreferences, huge repeat counts) is
// an error: the caller skips that pattern and says so in the generated code.
//
// Translations: \uXXXX escapes (with surrogate pairs joined into one code
// point) become \x{...}; the POSIX classes \p{Print}, \p{Alpha}, ... become
// their ASCII ranges, as in Java.
func goPattern(java string) (string, error) {
	translated, err := translateJava(java)
	if err != nil {
		return "", err
	}
	src := "^(?:" + translated + ")$"
	if _, err := regexp.Compile(src); err != nil {
		return "", fmt.Errorf("Go's RE2 cannot compile it (%s)", errText(err))
	}
	return src, nil
}

func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// posixClasses are Java's US-ASCII \p{...} classes as RE2 class contents.
var posixClasses = map[string]string{
	"Print":  `\x20-\x7E`,
	"Graph":  `\x21-\x7E`,
	"Alpha":  `a-zA-Z`,
	"Digit":  `0-9`,
	"Alnum":  `a-zA-Z0-9`,
	"Upper":  `A-Z`,
	"Lower":  `a-z`,
	"Punct":  `!-/:-@\[-` + "`" + `{-~`,
	"Space":  ` \t\n\x0B\f\r`,
	"XDigit": `0-9a-fA-F`,
	"Cntrl":  `\x00-\x1F\x7F`,
	"ASCII":  `\x00-\x7F`,
}

func translateJava(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			next := p[i+1]
			switch next {
			case 'u':
				r, n, ok := javaUnicode(p[i:])
				if !ok {
					return "", fmt.Errorf("bad \\u escape")
				}
				fmt.Fprintf(&b, `\x{%X}`, r)
				i += n - 1
				continue
			case 'p', 'P':
				if i+2 < len(p) && p[i+2] == '{' {
					end := strings.IndexByte(p[i:], '}')
					if end > 0 {
						name := p[i+3 : i+end]
						if cls, ok := posixClasses[name]; ok {
							if next == 'P' {
								return "", fmt.Errorf("negated POSIX class \\P{%s}", name)
							}
							if inClass {
								b.WriteString(cls)
							} else {
								b.WriteString("[" + cls + "]")
							}
							i += end
							continue
						}
					}
				}
			}
			b.WriteByte(c)
			b.WriteByte(next)
			i++
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal in both dialects.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// javaUnicode decodes a \uXXXX escape at the start of s, joining a UTF-16
// surrogate pair written as two escapes. It returns the code point and the
// number of bytes consumed.
func javaUnicode(s string) (rune, int, bool) {
	hex4 := func(s string) (rune, bool) {
		if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 32)
		return rune(v), err == nil
	}
	hi, ok := hex4(s)
	if !ok {
		return 0, 0, false
	}
	if hi >= 0xD800 && hi <= 0xDBFF {
		if lo, ok := hex4(s[6:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			return 0x10000 + (hi-0xD800)<<10 + (lo - 0xDC00), 12, true
		}
	}
	return hi, 6, true
}
