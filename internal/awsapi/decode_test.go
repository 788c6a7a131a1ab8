package awsapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/awsapi/ecr"
	"github.com/berth-dev/berth/internal/awsapi/ecs"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, awsapi.MaxJSONDepth+1) + "1" + strings.Repeat("}", awsapi.MaxJSONDepth+1)
	tests := []struct {
		name    string
		body    string
		wantErr string // substring of the SerializationException message; "" = success
		check   func(t *testing.T, in *ecs.RunTaskRequest)
	}{
		{name: "empty body is an empty object", body: ""},
		{name: "whitespace only", body: " \n\t "},
		{name: "null", body: "null"},
		{name: "empty object", body: "{}"},
		{name: "members", body: `{"taskDefinition":"web:3","count":2,"launchType":"FARGATE","enableECSManagedTags":true,
			"overrides":{"containerOverrides":[{"name":"app","environment":[{"name":"A","value":"1"}]}]},
			"tags":[{"key":"k","value":"v"}]}`,
			check: func(t *testing.T, in *ecs.RunTaskRequest) {
				if in.TaskDefinition != "web:3" || *in.Count != 2 || *in.LaunchType != ecs.LaunchTypeFargate ||
					!*in.EnableECSManagedTags || *in.Overrides.ContainerOverrides[0].Environment[0].Value != "1" ||
					*in.Tags[0].Key != "k" {
					t.Errorf("decoded %+v", in)
				}
			}},
		{name: "unknown members are ignored", body: `{"taskDefinition":"x","noSuchMember":{"deep":[1,2,3]}}`,
			check: func(t *testing.T, in *ecs.RunTaskRequest) {
				if in.TaskDefinition != "x" {
					t.Errorf("taskDefinition = %q", in.TaskDefinition)
				}
			}},
		{name: "absent optional members stay nil", body: `{"taskDefinition":"x"}`,
			check: func(t *testing.T, in *ecs.RunTaskRequest) {
				if in.Count != nil || in.Tags != nil || in.Overrides != nil || in.LaunchType != nil {
					t.Errorf("decoded %+v", in)
				}
			}},
		{name: "number for string", body: `{"taskDefinition":5}`,
			wantErr: "Cannot deserialize value of type 'string' at 'taskDefinition': found a number"},
		{name: "string for integer", body: `{"count":"1"}`,
			wantErr: "Cannot deserialize value of type 'integer' at 'count': found a string"},
		{name: "fraction for integer", body: `{"count":1.5}`,
			wantErr: "Cannot deserialize value of type 'integer' at 'count': found the number 1.5"},
		{name: "integer overflow", body: `{"count":4294967296}`,
			wantErr: "Cannot deserialize value of type 'integer' at 'count': found the number 4294967296"},
		{name: "string for boolean", body: `{"enableECSManagedTags":"true"}`,
			wantErr: "Cannot deserialize value of type 'boolean' at 'enableECSManagedTags': found a string"},
		{name: "object for list", body: `{"tags":{}}`,
			wantErr: "Cannot deserialize value of type 'list' at 'tags': found an object"},
		{name: "array for structure", body: `{"overrides":[]}`,
			wantErr: "Cannot deserialize value of type 'structure' at 'overrides': found an array"},
		{name: "nested wrong type", body: `{"tags":[{"key":true}]}`,
			wantErr: "Cannot deserialize value of type 'string' at 'tags.key': found a boolean"},
		{name: "top-level array", body: `[]`,
			wantErr: "Cannot deserialize value of type 'structure': found an array"},
		{name: "top-level string", body: `"x"`,
			wantErr: "Cannot deserialize value of type 'structure': found a string"},
		{name: "malformed", body: `{"taskDefinition":`, wantErr: "Malformed JSON"},
		{name: "single quotes", body: `{'taskDefinition':'x'}`, wantErr: "Malformed JSON"},
		{name: "trailing data", body: `{} {}`, wantErr: "Malformed JSON"},
		{name: "trailing garbage", body: `{"taskDefinition":"x"}x`, wantErr: "Malformed JSON"},
		{name: "too deep", body: deep, wantErr: "nests deeper than"},
		{name: "deep inside an ignored member", body: `{"x":` + deep + `}`, wantErr: "nests deeper than"},
		{name: "brackets inside strings do not count", body: `{"taskDefinition":"` + strings.Repeat("[{", 200) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in ecs.RunTaskRequest
			err := awsapi.DecodeJSON([]byte(tt.body), &in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				if tt.check != nil {
					tt.check(t, &in)
				}
				return
			}
			e, ok := awsapi.AsError(err)
			if !ok {
				t.Fatalf("DecodeJSON error = %v, want an *awsapi.Error", err)
			}
			if e.Code != awsapi.CodeSerialization || e.StatusCode != 400 || !strings.Contains(e.Message, tt.wantErr) {
				t.Errorf("DecodeJSON error = %s (%d), want SerializationException (400) containing %q", e, e.StatusCode, tt.wantErr)
			}
		})
	}
}

func TestDecodeJSONBlobAndTimestamp(t *testing.T) {
	t.Parallel()
	var up ecr.UploadLayerPartRequest
	if err := awsapi.DecodeJSON([]byte(`{"layerPartBlob":"aGVsbG8="}`), &up); err != nil {
		t.Fatal(err)
	}
	if string(up.LayerPartBlob) != "hello" {
		t.Errorf("blob = %q", up.LayerPartBlob)
	}
	err := awsapi.DecodeJSON([]byte(`{"layerPartBlob":"!!"}`), &up)
	if !awsapi.IsCode(err, awsapi.CodeSerialization) || !strings.Contains(err.Error(), "blob") {
		t.Errorf("bad base64: err = %v", err)
	}
	var ev ecs.SubmitTaskStateChangeRequest
	if err := awsapi.DecodeJSON([]byte(`{"pullStartedAt":1700000000.5,"pullStoppedAt":"2023-11-14T22:13:21Z"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.PullStartedAt.UnixMilli(); got != 1700000000500 {
		t.Errorf("pullStartedAt = %d ms", got)
	}
	if got := ev.PullStoppedAt.Unix(); got != 1700000001 {
		t.Errorf("pullStoppedAt = %d", got)
	}
	err = awsapi.DecodeJSON([]byte(`{"pullStartedAt":true}`), &ev)
	if !awsapi.IsCode(err, awsapi.CodeSerialization) {
		t.Errorf("bad timestamp: err = %v, want SerializationException", err)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   time.Time
		wire string
	}{
		{name: "whole seconds", at: time.Unix(1700000000, 0), wire: "1700000000"},
		{name: "milliseconds", at: time.Unix(1700000000, 123e6), wire: "1700000000.123"},
		{name: "sub-millisecond truncated", at: time.Unix(1700000000, 123456789), wire: "1700000000.123"},
		{name: "before 1970", at: time.Unix(-1, 0), wire: "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type holder struct {
				At  awsapi.Time  `json:"at"`
				Opt *awsapi.Time `json:"opt,omitempty"`
			}
			b, err := json.Marshal(holder{At: awsapi.NewTime(tt.at)})
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"at":` + tt.wire + `}`; string(b) != want {
				t.Fatalf("encoded %s, want %s", b, want)
			}
			var back holder
			if err := awsapi.DecodeJSON(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.At.Equal(tt.at.Truncate(time.Millisecond)) {
				t.Errorf("round trip: %v, want %v", back.At.Time, tt.at)
			}
		})
	}
}

func TestEncodeJSON(t *testing.T) {
	t.Parallel()
	var nilOut *ecs.CreateClusterResponse
	for _, v := range []any{nil, nilOut, &ecs.CreateClusterResponse{}} {
		b, err := awsapi.EncodeJSON(v)
		if err != nil || string(b) != "{}" {
			t.Errorf("EncodeJSON(%#v) = %s, %v; want {}", v, b, err)
		}
	}
	name := "c"
	out := &ecs.RunTaskResponse{Failures: []ecs.Failure{}, Tasks: []ecs.Task{{ClusterArn: &name, CreatedAt: awsapi.TimePtr(time.Unix(5, 0))}}}
	b, err := awsapi.EncodeJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	// An explicitly empty list is sent (omitzero), a nil one is not.
	if want := `{"tasks":[{"clusterArn":"c","createdAt":5}],"failures":[]}`; string(b) != want {
		t.Errorf("EncodeJSON = %s, want %s", b, want)
	}
}

// FuzzDecodeJSON feeds arbitrary bodies to the decoder and the validator of
// the richest ECS input: neither may panic, decoding fails only with a
// SerializationException, and what decodes re-encodes to a stable form.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"family":"web","containerDefinitions":[{"name":"app","image":"nginx","memory":512,"essential":true,` +
		`"portMappings":[{"containerPort":80,"hostPort":0,"protocol":"tcp"}]}]}`))
	f.Add([]byte(`{"family":"x","containerDefinitions":[{"name":"a","secrets":[{"name":"S"}]}],"tags":[{"key":""}]}`))
	f.Add([]byte(`{"family":5}`))
	f.Add([]byte(`[[[[{}]]]]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in ecs.RegisterTaskDefinitionRequest
		if err := awsapi.DecodeJSON(body, &in); err != nil {
			if !awsapi.IsCode(err, awsapi.CodeSerialization) {
				t.Fatalf("DecodeJSON error %v is not a SerializationException", err)
			}
			return
		}
		err := in.Validate()
		var verr *awsapi.ValidationErrors
		if err != nil && !errors.As(err, &verr) {
			t.Fatalf("Validate error %v is not *awsapi.ValidationErrors", err)
		}
		b1, err := awsapi.EncodeJSON(&in)
		if err != nil {
			// Timestamps beyond what the wire format can carry are the only
			// decodable values that cannot be re-encoded.
			return
		}
		var again ecs.RegisterTaskDefinitionRequest
		if err := awsapi.DecodeJSON(b1, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", b1, err)
		}
		b2, err := awsapi.EncodeJSON(&again)
		if err != nil || string(b1) != string(b2) {
			t.Fatalf("unstable round trip:\n%s\n%s (%v)", b1, b2, err)
		}
	})
}
