package config

// Match reports whether s matches the glob pattern, case-insensitively,
// with the rules of Redis' stringmatchlen (util.c), which CONFIG GET uses:
//
//   - any run of characters, also empty
//     ?       any one character
//     [abc]   one of a, b, c;  [^abc] one character that is none of them
//     [a-z]   one character in the range (either order); ranges,
//     characters and escapes may be mixed inside brackets
//     \x      the character x itself, also inside brackets (compared with
//     its case there, as Redis does)
//
// An unterminated [ matches as if closed at the end of the pattern, and
// the empty string matches only the empty pattern (not even "*"). Like
// Redis 7, once the rest of a pattern failed to match after a '*', earlier
// stars are not retried, so hostile patterns cannot take exponential time.
func Match(pattern, s string) bool {
	skipLonger := false
	return match(pattern, s, &skipLonger, 0)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func match(p, s string, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false // as Redis: give up on absurd patterns
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if match(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			matched := false
			for {
				if len(p) == 0 {
					// Unterminated class: stand on its last character, so
					// that the p = p[1:] below consumes the pattern.
					p = " "
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						matched = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					start, end := p[0], p[2]
					if start > end {
						start, end = end, start
					}
					start, end, c := lower(start), lower(end), lower(s[0])
					p = p[2:]
					if start <= c && c <= end {
						matched = true
					}
				} else if lower(p[0]) == lower(s[0]) {
					matched = true
				}
				p = p[1:]
			}
			if not {
				matched = !matched
			}
			if !matched {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if lower(p[0]) != lower(s[0]) {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
