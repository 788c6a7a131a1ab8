package agent

// LoadIdentity exposes loadIdentity to the external tests (package
// agent_test), which run `berth agent` as a process and learn its agent ID
// and instance ARN from its data directory. Like loadIdentity, it makes and
// saves an agent ID when the directory has none yet.
func LoadIdentity(dir string) (agentID, instanceARN string, err error) {
	id, err := loadIdentity(dir)
	return id.AgentID, id.InstanceARN, err
}
