package awsapi

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Time is a timestamp member. The JSON protocols encode it as epoch seconds
// with up to millisecond fractions (e.g. 1700000000.123); decoding also accepts
// an RFC 3339 string, which some SDKs send for timestampFormat=iso8601 members.
type Time struct{ time.Time }

// NewTime wraps t (truncated to milliseconds, the wire precision).
func NewTime(t time.Time) Time { return Time{t.Truncate(time.Millisecond)} }

// TimePtr returns a pointer to NewTime(t), or nil for the zero time.
func TimePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := NewTime(t)
	return &v
}

// MarshalJSON encodes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON accepts epoch seconds (integer or fractional) or an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("invalid timestamp %s", b)
		}
		if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Time = v
			return nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t.Time = fromEpoch(f)
			return nil
		}
		return fmt.Errorf("invalid timestamp %q", s)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("invalid timestamp %s", b)
	}
	t.Time = fromEpoch(f)
	return nil
}

func fromEpoch(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
}
