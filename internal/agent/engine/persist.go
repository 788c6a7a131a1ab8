package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// stateDir holds one JSON file per task, written by the task's goroutine
// only, so saving never needs a lock.
func (e *Engine) stateDir() string { return filepath.Join(e.cfg.DataDir, "tasks") }

func (e *Engine) taskFile(t *Task) string { return filepath.Join(e.stateDir(), t.ID()+".json") }

// savedTask is the saved form of a Task. Its Spec hides the Task's (a field
// of the embedded struct, one level deeper): the spec is written as the JSON
// it arrived in, and containers leave out their Def (tagged "-"). Encoding
// either would make encoding/json build encoders for the whole type graph of
// the ECS task definition, and encode that definition again at every save;
// decoding is lazy, and happens on restart and for snapshots only. It is
// encoded by hand (MarshalJSON) and decoded by encoding/json.
type savedTask struct {
	Spec json.RawMessage `json:"spec"`
	*taskFields
}

// taskFields is Task without its methods.
type taskFields Task

// encodeTask is t's saved form. A spec made in Go rather than decoded (by a
// test, say) is encoded once and keeps its encoding in Raw.
func encodeTask(t *Task) ([]byte, error) {
	if len(t.Spec.Raw) == 0 {
		raw, err := json.Marshal(t.Spec)
		if err != nil {
			return nil, err
		}
		t.Spec.Raw = raw
	}
	return savedTask{Spec: t.Spec.Raw, taskFields: (*taskFields)(t)}.MarshalJSON()
}

// MarshalJSON writes the document encoding/json would write for st through
// reflection, byte for byte, by hand. Tasks are saved at every transition,
// and encoding/json builds an encoder per type on first use (savedTask,
// Container, Binding, the statuses, time.Time, *int, ...), each step looking
// types up in the binary's tables: the first save of a task faulted some 80
// pages of type data into the agent (BenchmarkAgentRSS). It has a value
// receiver so that json.Marshal(savedTask{...}) takes the marshaler path at
// the top too; encodeTask calls it directly. TestSavedFormMatchesReflection
// keeps it in step with the struct tags of Task, Container and Binding: a
// field added there must be added here.
func (st savedTask) MarshalJSON() ([]byte, error) {
	t := st.taskFields
	n := len(st.Spec) + 384
	if t != nil {
		n += 320 * len(t.Containers)
	}
	b := append(make([]byte, 0, n), `{"spec":`...)
	b, err := appendRawJSON(b, st.Spec)
	if err != nil {
		return nil, err
	}
	if t == nil {
		// encoding/json leaves out the fields of a nil embedded pointer.
		return append(b, '}'), nil
	}
	b = append(b, `,"arn":`...)
	b = appendString(b, t.ARN)
	b = appendStatuses(b, t.Known.String(), t.Desired.String(), t.Sent.String())
	b = appendOmitEmpty(b, `,"stopCode":`, t.StopCode)
	b = appendOmitEmpty(b, `,"stoppedReason":`, t.StoppedReason)
	b = append(b, `,"containers":`...)
	if t.Containers == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range t.Containers {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendContainer(b, c); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if b, err = appendOmitZeroTime(b, `,"pullStartedAt":`, t.PullStartedAt); err != nil {
		return nil, err
	}
	if b, err = appendOmitZeroTime(b, `,"pullStoppedAt":`, t.PullStoppedAt); err != nil {
		return nil, err
	}
	if b, err = appendOmitZeroTime(b, `,"executionStoppedAt":`, t.ExecutionStoppedAt); err != nil {
		return nil, err
	}
	b = appendOmitEmpty(b, `,"sentHealth":`, t.SentHealth)
	if t.Cleaned {
		b = append(b, `,"cleaned":true`...)
	}
	return append(b, '}'), nil
}

// appendStatuses writes the known, desired and sent statuses of a task or
// a container, as their String forms (what their MarshalJSON writes).
func appendStatuses(b []byte, known, desired, sent string) []byte {
	b = append(b, `,"known":`...)
	b = appendString(b, known)
	b = append(b, `,"desired":`...)
	b = appendString(b, desired)
	b = append(b, `,"sent":`...)
	return appendString(b, sent)
}

// appendContainer writes c as encoding/json would (its Def left out).
func appendContainer(b []byte, c *Container) ([]byte, error) {
	if c == nil {
		return append(b, "null"...), nil
	}
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	if c.Pause {
		b = append(b, `,"pause":true`...)
	}
	b = appendStatuses(b, c.Known.String(), c.Desired.String(), c.Sent.String())
	b = appendOmitEmpty(b, `,"runtimeId":`, c.RuntimeID)
	b = appendOmitEmpty(b, `,"imageId":`, c.ImageID)
	if c.ExitCode != nil {
		b = append(b, `,"exitCode":`...)
		b = strconv.AppendInt(b, int64(*c.ExitCode), 10)
	}
	b = appendOmitEmpty(b, `,"reason":`, c.Reason)
	b = appendOmitEmpty(b, `,"health":`, c.Health)
	if len(c.Bindings) > 0 {
		b = append(b, `,"bindings":[`...)
		for i, p := range c.Bindings {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"containerPort":`...)
			b = strconv.AppendInt(b, int64(p.ContainerPort), 10)
			b = append(b, `,"hostPort":`...)
			b = strconv.AppendInt(b, int64(p.HostPort), 10)
			b = append(b, `,"protocol":`...)
			b = appendString(b, p.Protocol)
			b = append(b, `,"bindIP":`...)
			b = appendString(b, p.BindIP)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"metadataToken":`...)
	b = appendString(b, c.MetadataToken)
	var err error
	for _, f := range [...]struct {
		key string
		t   time.Time
	}{
		{`,"pullStartedAt":`, c.PullStartedAt},
		{`,"pullStoppedAt":`, c.PullStoppedAt},
		{`,"createdAt":`, c.CreatedAt},
		{`,"startedAt":`, c.StartedAt},
		{`,"finishedAt":`, c.FinishedAt},
	} {
		if b, err = appendOmitZeroTime(b, f.key, f.t); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendOmitEmpty writes key and s unless s is empty (omitempty).
func appendOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendOmitZeroTime writes key and t unless t.IsZero (omitzero), in
// time.Time.MarshalJSON's form: AppendText is the same RFC 3339 text, with
// the same checks (a year outside [0,9999] is an error).
func appendOmitZeroTime(b []byte, key string, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	b = append(append(b, key...), '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// appendRawJSON writes raw as encoding/json writes a json.RawMessage: null
// when nil, else compacted, with <, >, & and U+2028/U+2029 escaped (its
// default HTML escaping). A spec off the link is already in that form, so
// this is a copy plus a validity check; json.Compact and HTMLEscape use
// encoding/json's scanner, not reflection.
func appendRawJSON(b, raw []byte) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	start := len(b)
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return nil, err
	}
	b = buf.Bytes()
	if needsHTMLEscape(b[start:]) {
		var esc bytes.Buffer
		json.HTMLEscape(&esc, b[start:])
		b = append(b[:start], esc.Bytes()...)
	}
	return b, nil
}

// needsHTMLEscape reports whether json.HTMLEscape would change s.
func needsHTMLEscape(s []byte) bool {
	for i, c := range s {
		switch {
		case c == '<' || c == '>' || c == '&':
			return true
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8:
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string exactly as json.Marshal does:
// ", \ and control characters escaped (\b \f \n \r \t by name, others as
// \u00XX), <, > and & as \u003c \u003e \u0026, U+2028 and U+2029 as
// \u2028 \u2029, and each invalid UTF-8 byte replaced by \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeTask reads what encodeTask wrote, or a task saved by an earlier
// version (spec encoded from its fields, containers with their "def", which
// is ignored): each container's Def is derived from the spec again, as
// NewTask does.
func decodeTask(b []byte) (*Task, error) {
	t := new(Task)
	st := savedTask{taskFields: (*taskFields)(t)}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(st.Spec, &t.Spec); err != nil {
		return nil, fmt.Errorf("decoding the spec: %w", err)
	}
	defs := containerDefs(&t.Spec)
	for _, c := range t.Containers {
		for _, d := range defs {
			if deref(d.Name) == c.Name {
				c.Def = d
				break
			}
		}
	}
	return t, nil
}

// save writes t atomically (temp file and rename) and returns the bytes, which
// double as the read-only snapshot for the metadata endpoint.
func (e *Engine) save(t *Task) ([]byte, error) {
	b, err := encodeTask(t)
	if err != nil {
		return nil, fmt.Errorf("encoding task %s: %w", t.ARN, err)
	}
	if e.cfg.DataDir == "" {
		return b, nil
	}
	path := e.taskFile(t)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return b, fmt.Errorf("saving task %s: %w", t.ARN, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return b, fmt.Errorf("saving task %s: %w", t.ARN, err)
	}
	return b, nil
}

func (e *Engine) forget(t *Task) error {
	if e.cfg.DataDir == "" {
		return nil
	}
	if err := os.Remove(e.taskFile(t)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// load reads every saved task.
func (e *Engine) load() ([]*Task, error) {
	if e.cfg.DataDir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(e.stateDir(), 0o700); err != nil {
		return nil, fmt.Errorf("creating the state dir: %w", err)
	}
	entries, err := os.ReadDir(e.stateDir())
	if err != nil {
		return nil, fmt.Errorf("reading the state dir: %w", err)
	}
	var tasks []*Task
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.stateDir(), ent.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading saved task: %w", err)
		}
		t, err := decodeTask(b)
		if err != nil {
			// A torn or foreign file must not stop the agent: the task's
			// containers are still found by label.
			e.log.Warn("ignoring unreadable saved task", "file", ent.Name(), "err", err)
			continue
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}
