package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "ecs.config")
	body := `# written by user data
ECS_CLUSTER=from-file
export ECS_RESERVED_MEMORY="256"
ECS_INSTANCE_ATTRIBUTES={"stack":"prod","tier":"web"}
ECS_IMAGE_PULL_BEHAVIOR='prefer-cached'

ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=10m
`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		src   Sources
		check func(t *testing.T, c Config)
		err   string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			want := Default()
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v, want %+v", c, want)
			}
		}},
		{name: "file", src: Sources{File: file}, check: func(t *testing.T, c Config) {
			if c.Cluster != "from-file" || c.ReservedMemory != 256 || c.PullBehavior != PullPreferCached ||
				c.CleanupWait != 10*time.Minute || c.Attributes["stack"] != "prod" || c.Attributes["tier"] != "web" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "env over file", src: Sources{File: file, Env: []string{
			"ECS_CLUSTER=from-env", "ECS_CONTAINER_STOP_TIMEOUT=5s", "ECS_INSTANCE_ATTRIBUTES={\"tier\":\"db\"}",
			"AWS_ENDPOINT_URL=http://127.0.0.1:4566", "ECS_AVAILABLE_LOGGING_DRIVERS=[\"json-file\",\"awslogs\"]",
			"ECS_RESERVED_PORTS=[22]", "ECS_RESERVED_PORTS_UDP=[53]", "IGNORED=1",
		}}, check: func(t *testing.T, c Config) {
			if c.Cluster != "from-env" || c.StopTimeout != 5*time.Second || c.Attributes["tier"] != "db" ||
				c.Attributes["stack"] != "prod" || c.Endpoint != "http://127.0.0.1:4566" ||
				!reflect.DeepEqual(c.LoggingDrivers, []string{"json-file", "awslogs"}) ||
				!reflect.DeepEqual(c.ReservedPorts, []int{22}) || !reflect.DeepEqual(c.ReservedPortsUDP, []int{53}) {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "service endpoint wins", src: Sources{Env: []string{
			"AWS_ENDPOINT_URL_ECS=http://b", "AWS_ENDPOINT_URL=http://a",
		}}, check: func(t *testing.T, c Config) {
			if c.Endpoint != "http://b" {
				t.Errorf("endpoint %q", c.Endpoint)
			}
		}},
		{name: "flags over env", src: Sources{Env: []string{"ECS_CLUSTER=e"}, Flags: map[string]string{
			"cluster": "f", "cpu": "2048", "memory": "4096", "instance-type": "t3.small",
			"availability-zone": "us-east-1b", "attributes": "a=1, b=2,c", "endpoint": "http://x",
		}}, check: func(t *testing.T, c Config) {
			if c.Cluster != "f" || c.CPU != 2048 || c.Memory != 4096 || c.InstanceType != "t3.small" ||
				c.AvailabilityZone != "us-east-1b" || c.Endpoint != "http://x" ||
				!reflect.DeepEqual(c.Attributes, map[string]string{"a": "1", "b": "2", "c": ""}) {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "bare seconds", src: Sources{Env: []string{"ECS_CONTAINER_STOP_TIMEOUT=7"}}, check: func(t *testing.T, c Config) {
			if c.StopTimeout != 7*time.Second {
				t.Errorf("stop timeout %s", c.StopTimeout)
			}
		}},
		{name: "bad pull behavior", src: Sources{Env: []string{"ECS_IMAGE_PULL_BEHAVIOR=never"}}, err: "ECS_IMAGE_PULL_BEHAVIOR"},
		{name: "bad attributes json", src: Sources{Env: []string{"ECS_INSTANCE_ATTRIBUTES=a=b"}}, err: "ECS_INSTANCE_ATTRIBUTES"},
		{name: "bad duration", src: Sources{Env: []string{"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=soon"}}, err: "CLEANUP_WAIT"},
		{name: "stop timeout too small", src: Sources{Env: []string{"ECS_CONTAINER_STOP_TIMEOUT=100ms"}}, err: "minimum"},
		{name: "bad port", src: Sources{Env: []string{"ECS_RESERVED_PORTS=[70000]"}}, err: "out of range"},
		{name: "bad cpu flag", src: Sources{Flags: map[string]string{"cpu": "two"}}, err: "--cpu"},
		{name: "unknown flag", src: Sources{Flags: map[string]string{"colour": "red"}}, err: "unknown"},
		{name: "missing file", src: Sources{File: filepath.Join(dir, "nope")}, err: "reading the config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestReadFileSyntaxError(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "ecs.config")
	if err := os.WriteFile(file, []byte("ECS_CLUSTER=a\nnot a pair\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(file); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("err = %v, want a line-2 error", err)
	}
}
