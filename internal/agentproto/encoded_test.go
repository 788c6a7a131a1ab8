package agentproto

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestEncodedPayloadIsAPayload: an EncodedEnvelope with the tasks encoded
// one by one reads back as the Envelope that encodes them all at once.
func TestEncodedPayloadIsAPayload(t *testing.T) {
	tasks := []TaskSpec{
		{TaskARN: "arn:aws:ecs:us-east-1:000000000000:task/c/1", DesiredStatus: "RUNNING", Version: 2, CreatedAt: time.Unix(1700000000, 0).UTC(),
			ContainerARNs: map[string]string{"web": "arn:c1"}, Group: "family:web", CPU: "256"},
		{TaskARN: "arn:aws:ecs:us-east-1:000000000000:task/c/2", DesiredStatus: "STOPPED", StoppedReason: "scale-in", Version: 3},
	}
	raw := []byte("[")
	for i, ts := range tasks {
		b, err := json.Marshal(ts)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = append(raw, b...)
	}
	raw = append(raw, ']')
	enc, err := json.Marshal(EncodedEnvelope{Type: TypePayload, Payload: &EncodedPayload{Seq: 7, Tasks: raw, ContainerInstanceARN: "arn:ci"}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(Envelope{Type: TypePayload, Payload: &Payload{Seq: 7, Tasks: tasks, ContainerInstanceARN: "arn:ci"}})
	if string(enc) != string(want) {
		t.Fatalf("encoded envelope\n%s\nwant\n%s", enc, want)
	}
	var got Envelope
	if err := json.Unmarshal(enc, &got); err != nil || got.Payload == nil || len(got.Payload.Tasks) != len(tasks) {
		t.Fatalf("read back %+v (%v)", got.Payload, err)
	}
	for i := range got.Payload.Tasks {
		ts := &got.Payload.Tasks[i]
		if b, _ := json.Marshal(tasks[i]); string(ts.Raw) != string(b) {
			t.Errorf("task %d: raw %s, want %s", i, ts.Raw, b)
		}
		ts.Raw = nil
	}
	if !reflect.DeepEqual(got.Payload.Tasks, tasks) {
		t.Fatalf("read back %+v", got.Payload.Tasks)
	}
}

// TestTaskSpecRaw: decoding a spec keeps a copy of its JSON, which encoding
// leaves out.
func TestTaskSpecRaw(t *testing.T) {
	t.Parallel()
	in := []byte(`{"taskArn":"arn:t", "version":3, "unknown":{"a":1}}`)
	var s TaskSpec
	if err := json.Unmarshal(in, &s); err != nil || s.TaskARN != "arn:t" || s.Version != 3 {
		t.Fatalf("decoded %+v (%v)", s, err)
	}
	if string(s.Raw) != string(in) {
		t.Fatalf("raw %s, want %s", s.Raw, in)
	}
	in[2] = 'X'
	if s.Raw[2] != 't' {
		t.Fatal("raw shares the input's bytes")
	}
	withRaw, _ := json.Marshal(s)
	s.Raw = nil
	without, _ := json.Marshal(s)
	if string(withRaw) != string(without) {
		t.Fatalf("encoded with raw %s, without %s", withRaw, without)
	}
}
