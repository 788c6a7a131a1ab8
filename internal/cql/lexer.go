package cql

import (
	"fmt"
	"strings"
)

// tokKind classifies a token. Words are classified by the parser, from
// context, so a value may be spelled like a keyword ("== and" compares with
// the string "and").
type tokKind int

const (
	tokEOF    tokKind = iota
	tokWord           // bare word: subject, keyword or unquoted value
	tokString         // quoted value
	tokOp             // symbolic operator: == != > >= < <= =~ !~ !exists !in
	tokNot            // !
	tokAnd            // &&
	tokOr             // ||
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokComma
)

type token struct {
	kind tokKind
	text string // word, unquoted string content or operator
	pos  int    // 1-based position of the token's first byte
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return fmt.Sprintf("%q", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// SyntaxError is a parse error at a 1-based byte position.
type SyntaxError struct {
	Pos   int
	Msg   string // what was expected, e.g. "expected operator"
	Found string // what was there instead, when it helps
}

func (e *SyntaxError) Error() string {
	if e.Found != "" {
		return fmt.Sprintf("cql: %s at position %d, found %s", e.Msg, e.Pos, e.Found)
	}
	return fmt.Sprintf("cql: %s at position %d", e.Msg, e.Pos)
}

// isWordByte reports whether c may appear in a bare word: anything but
// space, quotes and the punctuation of the grammar. Bare words therefore
// carry attribute names (attribute:ecs.instance-type), group names
// (service:web), dates (2018-06-18T22:28:28+00:00) and simple regular
// expressions (t2.*, g2.[a-z]+).
func isWordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\'', '"', '(', ')', '[', ']', ',', '!', '=', '<', '>', '&', '|', '~':
		return false
	}
	return c > ' ' && c != 0x7f
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		pos := i + 1
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", pos})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", pos})
			i++
		case c == '[':
			toks = append(toks, token{tokLBrack, "[", pos})
			i++
		case c == ']':
			toks = append(toks, token{tokRBrack, "]", pos})
			i++
		case c == ',':
			toks = append(toks, token{tokComma, ",", pos})
			i++
		case c == '\'' || c == '"':
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 {
				return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("expected closing %c", c)}
			}
			toks = append(toks, token{tokString, src[i+1 : i+1+end], pos})
			i += end + 2
		case c == '&' || c == '|':
			if i+1 >= len(src) || src[i+1] != c {
				return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("expected %c%c", c, c)}
			}
			k := tokAnd
			if c == '|' {
				k = tokOr
			}
			toks = append(toks, token{k, src[i : i+2], pos})
			i += 2
		case c == '=':
			if i+1 < len(src) && (src[i+1] == '=' || src[i+1] == '~') {
				toks = append(toks, token{tokOp, src[i : i+2], pos})
				i += 2
				continue
			}
			return nil, &SyntaxError{Pos: pos, Msg: "expected == or =~"}
		case c == '<' || c == '>':
			if i+1 < len(src) && src[i+1] == '=' {
				toks = append(toks, token{tokOp, src[i : i+2], pos})
				i += 2
				continue
			}
			toks = append(toks, token{tokOp, src[i : i+1], pos})
			i++
		case c == '!':
			if i+1 < len(src) && (src[i+1] == '=' || src[i+1] == '~') {
				toks = append(toks, token{tokOp, src[i : i+2], pos})
				i += 2
				continue
			}
			// !exists and !in are operators; any other ! is "not".
			j := i + 1
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			if w := src[i+1 : j]; w == "exists" || w == "in" {
				toks = append(toks, token{tokOp, src[i:j], pos})
				i = j
				continue
			}
			toks = append(toks, token{tokNot, "!", pos})
			i++
		case c == '~':
			return nil, &SyntaxError{Pos: pos, Msg: "expected =~ or !~"}
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			toks = append(toks, token{tokWord, src[i:j], pos})
			i = j
		default:
			return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("unexpected character %q", c)}
		}
	}
	toks = append(toks, token{tokEOF, "", len(src) + 1})
	return toks, nil
}
