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
	if err := json.Unmarshal(enc, &got); err != nil || got.Payload == nil || !reflect.DeepEqual(got.Payload.Tasks, tasks) {
		t.Fatalf("read back %+v (%v)", got.Payload, err)
	}
}
