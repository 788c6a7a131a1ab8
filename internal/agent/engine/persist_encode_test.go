package engine

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// reflectSaved is the saved form as encoding/json writes it through
// reflection: the same fields, tags and embedding as savedTask, without its
// MarshalJSON (a savedTask as it was before it had one).
func reflectSaved(raw json.RawMessage, t *Task) ([]byte, error) {
	return json.Marshal(struct {
		Spec json.RawMessage `json:"spec"`
		*taskFields
	}{raw, (*taskFields)(t)})
}

// checkSavedForm fails unless savedTask's MarshalJSON writes what
// reflectSaved does for raw and tk, byte for byte, or both fail; and
// json.Marshal of a savedTask (the marshaler path) writes the same.
func checkSavedForm(t *testing.T, raw json.RawMessage, tk *Task) {
	t.Helper()
	want, wantErr := reflectSaved(raw, tk)
	st := savedTask{Spec: raw, taskFields: (*taskFields)(tk)}
	got, err := st.MarshalJSON()
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("hand encoding error %v, reflection error %v\nspec %q task %+v", err, wantErr, raw, tk)
	}
	if err != nil {
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("hand encoding\n%s\nreflection\n%s\n(first difference at byte %d)", got, want, firstDiff(got, want))
	}
	viaMarshal, err := json.Marshal(st)
	if err != nil || !bytes.Equal(viaMarshal, want) {
		t.Fatalf("json.Marshal(savedTask)\n%s (%v)\nwant\n%s", viaMarshal, err, want)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// stringPieces are joined into the generated strings: everything
// encoding/json escapes, and invalid UTF-8 it replaces.
var stringPieces = []string{
	"", "a", "web", "arn:aws:ecs:us-east-1:000000000000:task/c/0123abcd", " ", `"`, `\`, `\"`, "/",
	"\x00", "\x01", "\x1f", "\b", "\f", "\n", "\r", "\t", "\x7f", "<", ">", "&", "</script>",
	"\u2028", "\u2029", "\u2027", "\u202a", "é", "日本語", "\U0001F600", "\ufffd", "\ufeff",
	"\xff", "\xfe", "\x80", "\xe2\x80", "\xe2\x80\xa8"[:2], "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
}

func randString(r *rand.Rand) string {
	var sb strings.Builder
	for range r.IntN(5) {
		sb.WriteString(stringPieces[r.IntN(len(stringPieces))])
	}
	return sb.String()
}

var (
	zoneIST  = time.FixedZone("IST", 5*3600+30*60)
	zonePST  = time.FixedZone("PST", -8*3600)
	zoneOdd  = time.FixedZone("LMT", -(3600 + 17*60 + 11)) // an offset with seconds
	zoneList = []*time.Location{time.UTC, zoneIST, zonePST, zoneOdd, time.Local}
	nanos    = []int{0, 1, 10, 100, 1000, 100000, 120000000, 123456000, 123456789, 500000000, 999999999}
)

func randTime(r *rand.Rand) time.Time {
	loc := zoneList[r.IntN(len(zoneList))]
	switch r.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Time{}.In(loc) // zero in a zone: still omitted
	case 2:
		return time.Now().In(loc) // with a monotonic reading
	case 3:
		return time.Date(r.IntN(2)*9999, time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), nanos[r.IntN(len(nanos))], loc)
	}
	return time.Unix(r.Int64N(4e9), int64(nanos[r.IntN(len(nanos))])).In(loc)
}

func randStatus(r *rand.Rand, n int) int { return r.IntN(n+2) - 1 } // out of range too

func randContainer(r *rand.Rand) *Container {
	if r.IntN(20) == 0 {
		return nil
	}
	c := &Container{
		Name: randString(r), Pause: r.IntN(3) == 0,
		Known:     ContainerStatus(randStatus(r, len(containerStatusNames))),
		Desired:   ContainerStatus(randStatus(r, len(containerStatusNames))),
		Sent:      ContainerStatus(randStatus(r, len(containerStatusNames))),
		RuntimeID: randString(r), ImageID: randString(r), Reason: randString(r), Health: randString(r),
		MetadataToken: randString(r),
		PullStartedAt: randTime(r), PullStoppedAt: randTime(r), CreatedAt: randTime(r), StartedAt: randTime(r), FinishedAt: randTime(r),
	}
	if r.IntN(2) == 0 {
		code := []int{0, 1, -1, 137, 255, 1 << 40, -1 << 62}[r.IntN(7)]
		c.ExitCode = &code
	}
	switch r.IntN(4) {
	case 0: // nil
	case 1:
		c.Bindings = []Binding{}
	default:
		for range 1 + r.IntN(3) {
			c.Bindings = append(c.Bindings, Binding{ContainerPort: r.IntN(70000) - 10, HostPort: r.IntN(70000),
				Protocol: randString(r), BindIP: randString(r)})
		}
	}
	return c
}

func randTask(r *rand.Rand) *Task {
	tk := &Task{
		ARN:   randString(r),
		Known: TaskStatus(randStatus(r, len(taskStatusNames))), Desired: TaskStatus(randStatus(r, len(taskStatusNames))),
		Sent:     TaskStatus(randStatus(r, len(taskStatusNames))),
		StopCode: randString(r), StoppedReason: randString(r), SentHealth: randString(r), Cleaned: r.IntN(2) == 0,
		PullStartedAt: randTime(r), PullStoppedAt: randTime(r), ExecutionStoppedAt: randTime(r),
	}
	switch r.IntN(5) {
	case 0: // nil: "null"
	case 1:
		tk.Containers = []*Container{}
	default:
		for range 1 + r.IntN(4) {
			tk.Containers = append(tk.Containers, randContainer(r))
		}
	}
	return tk
}

// specs are raw specs as they may come: compact off the link, with spaces,
// with characters encoding/json escapes when it copies a RawMessage, nil.
var specs = []json.RawMessage{
	nil,
	json.RawMessage(`{}`),
	json.RawMessage(`null`),
	json.RawMessage(`{"taskArn":"arn:aws:ecs:us-east-1:000000000000:task/c/feed","version":1,"definition":{"containerDefinitions":[{"name":"a","image":"busybox","command":["sleep","9"]}]}}`),
	json.RawMessage(" {\n\t\"a\" : [ 1 , 2.5e3 , true , null ] ,\r\n \"b\" : \"x y\" } "),
	json.RawMessage(`{"cmd":"a<b && c>d","u":"\u003c\u2028","raw":"` + "\u2028\u2029 é \U0001F600" + `"}`),
	json.RawMessage(`{"esc":"\"\\\/\b\f\n\r\t\u0000"}`),
}

// TestSavedFormMatchesReflection is the guard against drift between
// savedTask.MarshalJSON and the struct tags of Task, Container and Binding:
// for generated tasks (zero and odd values, escapes, invalid UTF-8, times in
// several zones) the hand encoding is what encoding/json writes.
func TestSavedFormMatchesReflection(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkSavedForm(t, specs[r.IntN(len(specs))], randTask(r))
	}
	checkSavedForm(t, specs[3], &Task{})
	checkSavedForm(t, specs[3], nil) // no fields but the spec
	checkSavedForm(t, specs[3], NewTask(persistSpec()))
	tk := NewTask(persistSpec())
	setPersistState(tk)
	checkSavedForm(t, specs[3], tk)
}

// TestSavedFormErrors: what encoding/json refuses, the hand encoding
// refuses: a spec that is not JSON, a time RFC 3339 cannot hold.
func TestSavedFormErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		spec json.RawMessage
		task *Task
	}{
		{"empty spec", json.RawMessage{}, &Task{}},
		{"spec not JSON", json.RawMessage(`{"a":`), &Task{}},
		{"two values", json.RawMessage(`{} {}`), &Task{}},
		{"year 10000", specs[1], &Task{PullStoppedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"year -1", specs[1], &Task{Containers: []*Container{{FinishedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"zone offset 24h", specs[1], &Task{ExecutionStoppedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := reflectSaved(tt.spec, tt.task); err == nil {
				t.Fatal("encoding/json accepted it")
			}
			if b, err := (savedTask{Spec: tt.spec, taskFields: (*taskFields)(tt.task)}).MarshalJSON(); err == nil {
				t.Fatalf("hand encoding accepted it: %s", b)
			}
		})
	}
}

// TestSavedFormHasEveryField fails when Task, Container or Binding gains a
// field the hand encoding does not write: every field set (through
// reflection, so a new one is set too) to a non-zero value, it would appear
// in encoding/json's document only.
func TestSavedFormHasEveryField(t *testing.T) {
	t.Parallel()
	tk := new(Task)
	fillNonZero(reflect.ValueOf(tk).Elem(), 0)
	if len(tk.Containers) == 0 || len(tk.Containers[0].Bindings) == 0 || tk.Containers[0].ExitCode == nil {
		t.Fatalf("not filled: %+v", tk)
	}
	checkSavedForm(t, specs[3], tk)

	// Each field of the three types is in the document, under its tag.
	b, err := (savedTask{Spec: specs[3], taskFields: (*taskFields)(tk)}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var task map[string]json.RawMessage
	var containers, bindings []map[string]json.RawMessage
	if err := json.Unmarshal(b, &task); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(task["containers"], &containers); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(containers[0]["bindings"], &bindings); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		typ reflect.Type
		obj map[string]json.RawMessage
	}{
		{reflect.TypeFor[Task](), task},
		{reflect.TypeFor[Container](), containers[0]},
		{reflect.TypeFor[Binding](), bindings[0]},
	} {
		for i := range tt.typ.NumField() {
			f := tt.typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := tt.obj[name]; !ok {
				t.Errorf("%s.%s (%q) is not written", tt.typ.Name(), f.Name, name)
			}
		}
	}
}

// fillNonZero sets every settable field of v to a non-zero value of its
// kind; a slice gets one element, a pointer a filled value. Depth bounds the
// recursion into the ECS types (Spec and Def, which are not saved).
func fillNonZero(v reflect.Value, depth int) {
	if depth > 8 || !v.CanSet() {
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 3, 4, 5, 6, 7, 890, zoneIST)))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.String:
		v.SetString("x<\"é")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillNonZero(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillNonZero(v.Index(0), depth+1)
	case reflect.Array:
		for i := range v.Len() {
			fillNonZero(v.Index(i), depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMapWithSize(v.Type(), 1)
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillNonZero(k, depth+1)
		fillNonZero(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			fillNonZero(v.Field(i), depth+1)
		}
	}
}

// TestAppendString: appendString writes what json.Marshal writes for every
// one- and two-byte string and for generated ones.
func TestAppendString(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	for i := range 256 {
		for j := range 257 {
			s := string([]byte{byte(i), byte(j)})
			if j == 256 {
				s = s[:1]
			}
			check(s)
		}
	}
	for r := rune(0); r <= utf8.MaxRune+1; r += 7 {
		check("a" + string(r) + "b")
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(randString(rnd))
		b := make([]byte, rnd.IntN(12))
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		check(string(b))
	}
}

// FuzzSavedString: appendString and json.Marshal agree on any string.
func FuzzSavedString(f *testing.F) {
	for _, s := range stringPieces {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
